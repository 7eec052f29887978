import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * MariaDB Connector/J (Debian's libmariadb-java, the driver Metabase and DBeaver
 * use for MySQL-protocol servers) against arb.
 *
 * <p>Usage: java -cp mariadb-java-client.jar:DIR BiDrivers PORT ROOT_PW ANALYST_PW CERT_PEM OTHER_CERT_PEM
 *
 * <p>Every connection asks for TLS verified against CERT_PEM, arb's certificate
 * (Connector/J 2.x spells it useSsl + serverSslCert; 3.x's sslMode=verify-ca).
 * Prints "key TAB value" lines of what the driver saw; integration/bi_drivers_test.go
 * asserts them against the loaded fixture. A step's failure is printed as
 * "error|class|code|sqlstate|message" so the test names it.
 */
public class BiDrivers {
    static String port, rootPw, analystPw, cert, otherCert;

    static void put(String key, Object value) {
        System.out.println(key + "\t" + String.valueOf(value).replace('\n', ' ').replace('\t', ' '));
        System.out.flush();
    }

    static String err(Throwable e) {
        int code = e instanceof SQLException ? ((SQLException) e).getErrorCode() : 0;
        String state = e instanceof SQLException ? ((SQLException) e).getSQLState() : "";
        return "error|" + e.getClass().getSimpleName() + "|" + code + "|" + state + "|" + e.getMessage();
    }

    static Connection connect(String user, String password, String extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        return DriverManager.getConnection("jdbc:mariadb://127.0.0.1:" + port + "/shop?" + extra, p);
    }

    static String tls() {
        return "useSsl=true&serverSslCert=" + cert;
    }

    static int count(ResultSet rs) throws SQLException {
        int n = 0;
        while (rs.next()) {
            n++;
        }
        return n;
    }

    interface Step {
        Object run() throws Exception;
    }

    static void step(String key, Step s) {
        try {
            put(key, s.run());
        } catch (Throwable e) {
            put(key, err(e));
        }
    }

    public static void main(String[] args) throws Exception {
        port = args[0];
        rootPw = args[1];
        analystPw = args[2];
        cert = args[3];
        otherCert = args[4];
        put("driver", new org.mariadb.jdbc.Driver().getMajorVersion() + "." + new org.mariadb.jdbc.Driver().getMinorVersion());

        // TLS: plaintext is refused by --require-secure-transport; a certificate
        // that is not arb's fails verification; arb's own passes.
        step("plaintext", () -> {
            try (Connection c = connect("analyst", analystPw, "")) {
                return "connected";
            }
        });
        step("wrong_cert", () -> {
            try (Connection c = connect("analyst", analystPw, "useSsl=true&serverSslCert=" + otherCert)) {
                return "connected";
            }
        });
        try (Connection analyst = connect("analyst", analystPw, tls());
                Connection root = connect("root", rootPw, tls())) {
            // A caching_sha2_password account (MySQL 8's default plugin) over
            // TLS: the driver sends the password inside TLS on the server's
            // request for full authentication.
            step("sha2_count", () -> {
                try (Connection c = connect("sha", analystPw, tls()); Statement s = c.createStatement();
                        ResultSet rs = s.executeQuery("SELECT CURRENT_USER(), (SELECT COUNT(*) FROM events WHERE event = 'Signup')")) {
                    rs.next();
                    return rs.getString(1) + "=" + rs.getLong(2);
                }
            });
            step("tls_count", () -> {
                try (Statement s = analyst.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM events")) {
                    rs.next();
                    return rs.getLong(1);
                }
            });

            // setMaxRows: the driver sends SET sql_select_limit; the next
            // statement without it must get every row again.
            step("maxrows", () -> {
                try (Statement s = analyst.createStatement()) {
                    s.setMaxRows(5);
                    return count(s.executeQuery("SELECT * FROM events"));
                }
            });
            step("maxrows_after", () -> {
                try (Statement s = analyst.createStatement()) {
                    return count(s.executeQuery("SELECT * FROM events"));
                }
            });
            step("maxrows_prepared", () -> {
                try (PreparedStatement ps = analyst.prepareStatement("SELECT * FROM events WHERE event = ?")) {
                    ps.setMaxRows(7);
                    ps.setString(1, "Signup");
                    return count(ps.executeQuery());
                }
            });

            step("maxrows_server_prepared", () -> {
                try (Connection c = connect("analyst", analystPw, tls() + "&useServerPrepStmts=true");
                        PreparedStatement ps = c.prepareStatement("SELECT * FROM events WHERE event = ?")) {
                    ps.setMaxRows(9);
                    ps.setString(1, "Purchase");
                    int capped = count(ps.executeQuery());
                    ps.setMaxRows(0);
                    return capped + "," + count(ps.executeQuery());
                }
            });
            // Streaming (setFetchSize: the driver reads rows as they come
            // instead of buffering the result), then the connection goes on.
            step("streaming", () -> {
                try (Statement s = analyst.createStatement()) {
                    s.setFetchSize(100);
                    int n = count(s.executeQuery("SELECT time, event, distinct_id FROM events ORDER BY time"));
                    try (Statement s2 = analyst.createStatement();
                            ResultSet rs = s2.executeQuery("SELECT COUNT(*) FROM events WHERE event = 'Page View'")) {
                        rs.next();
                        return n + "," + rs.getLong(1);
                    }
                }
            });

            // DatabaseMetaData as Metabase's sync and DBeaver's navigator read it.
            step("meta_product", () -> analyst.getMetaData().getDatabaseProductName() + " " + analyst.getMetaData().getDatabaseProductVersion());
            step("meta_tables", () -> {
                List<String> names = new ArrayList<>();
                try (ResultSet rs = analyst.getMetaData().getTables("shop", null, "%", new String[] {"TABLE"})) {
                    while (rs.next()) {
                        names.add(rs.getString("TABLE_NAME"));
                    }
                }
                return String.join(",", names);
            });
            step("meta_columns", () -> {
                List<String> cols = new ArrayList<>();
                try (ResultSet rs = analyst.getMetaData().getColumns("shop", null, "events", "%")) {
                    while (rs.next()) {
                        cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                    }
                }
                return String.join(",", cols);
            });

            // The rest of what Metabase's sync and DBeaver's navigator ask:
            // keys, indexes, routines (each a count of rows, or the error).
            DatabaseMetaData md = analyst.getMetaData();
            step("meta_primary_keys", () -> count(md.getPrimaryKeys("shop", null, "events")));
            step("meta_imported_keys", () -> count(md.getImportedKeys("shop", null, "events")));
            step("meta_index_info", () -> count(md.getIndexInfo("shop", null, "events", false, true)));
            step("meta_procedures", () -> count(md.getProcedures("shop", null, "%")));
            step("meta_functions", () -> count(md.getFunctions("shop", null, "%")));
            step("meta_type_info", () -> count(md.getTypeInfo()) > 10);

            // Metabase's connection: its URL options (MariaDB Connector/J),
            // the report time zone it sets, its 2,000-row cap and its week
            // grain.
            step("metabase", () -> {
                String opts = "zeroDateTimeBehavior=convertToNull&useUnicode=true&characterEncoding=UTF8"
                        + "&characterSetResults=UTF8&useCompression=true&tinyInt1isBit=false&" + tls();
                try (Connection c = connect("analyst", analystPw, opts); Statement s = c.createStatement()) {
                    s.execute("SET @@session.time_zone = 'UTC'");
                    s.setMaxRows(2000);
                    List<String> out = new ArrayList<>();
                    try (ResultSet rs = s.executeQuery("SELECT STR_TO_DATE(CONCAT(YEARWEEK(`events`.`time`), ' Sunday'), '%X%V %W') AS `time`, COUNT(*) AS `count` "
                            + "FROM `events` WHERE `events`.`plan` = 'pro' AND `events`.`event` = 'Purchase' "
                            + "GROUP BY STR_TO_DATE(CONCAT(YEARWEEK(`events`.`time`), ' Sunday'), '%X%V %W') "
                            + "ORDER BY STR_TO_DATE(CONCAT(YEARWEEK(`events`.`time`), ' Sunday'), '%X%V %W') ASC")) {
                        while (rs.next()) {
                            out.add(rs.getDate(1) + "=" + rs.getLong(2));
                        }
                    }
                    // 4,000 rows (events twice over), capped at 2,000.
                    try (ResultSet rs = s.executeQuery("SELECT * FROM `events` CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2) AS two")) {
                        out.add("capped=" + count(rs));
                    }
                    return String.join(",", out);
                }
            });

            // Connection.setReadOnly, as DBeaver's read-only connections and
            // Metabase call it: with assureReadOnly the driver sends SET SESSION
            // TRANSACTION READ ONLY, so even root's write fails with 1792.
            step("readonly_root_insert", () -> {
                try (Connection c = connect("root", rootPw, tls() + "&assureReadOnly=true")) {
                    c.setReadOnly(true);
                    try (Statement s = c.createStatement()) {
                        return s.executeUpdate("INSERT INTO events (time, event, distinct_id) VALUES ('2025-02-01 00:00:00', 'x', 'y')");
                    }
                }
            });

            // Prepared statements with parameters, client-side (the 2.x default)
            // and server-side.
            String grouped = "SELECT event, COUNT(*) AS n FROM events WHERE time >= ? AND time < ? AND `plan` = ? GROUP BY event ORDER BY event";
            for (String mode : new String[] {"client", "server"}) {
                step("prepared_" + mode, () -> {
                    try (Connection c = connect("analyst", analystPw, tls() + (mode.equals("server") ? "&useServerPrepStmts=true" : ""));
                            PreparedStatement ps = c.prepareStatement(grouped)) {
                        ps.setTimestamp(1, Timestamp.valueOf("2025-01-08 00:00:00"));
                        ps.setTimestamp(2, Timestamp.valueOf("2025-01-15 00:00:00"));
                        ps.setString(3, "pro");
                        List<String> out = new ArrayList<>();
                        try (ResultSet rs = ps.executeQuery()) {
                            while (rs.next()) {
                                out.add(rs.getString(1) + "=" + rs.getLong(2));
                            }
                        }
                        return String.join(",", out);
                    }
                });
            }

            // setQueryTimeout: the driver sends KILL QUERY from a second
            // connection after 1 s; the statement fails and the connection goes on.
            step("timeout", () -> {
                long start = System.nanoTime();
                String res;
                try (Statement s = analyst.createStatement()) {
                    s.setQueryTimeout(1);
                    try (ResultSet rs = s.executeQuery("SELECT SLEEP(30)")) {
                        rs.next();
                        res = "finished:" + rs.getString(1);
                    } catch (SQLException e) {
                        res = err(e);
                    }
                }
                return res + "|ms=" + (System.nanoTime() - start) / 1000000;
            });
            step("timeout_then", () -> {
                try (Statement s = analyst.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM events WHERE event = 'Purchase'")) {
                    rs.next();
                    return rs.getLong(1);
                }
            });

            // Statement.cancel from another thread on a query that works (a
            // three-way cross join of events): it must stop on the server too.
            step("cancel", () -> {
                ExecutorService ex = Executors.newSingleThreadExecutor();
                try (Statement s = analyst.createStatement()) {
                    long start = System.nanoTime();
                    Future<String> f = ex.submit(() -> {
                        try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM events a, events b, events c WHERE a.amount + b.amount > c.amount")) {
                            rs.next();
                            return "finished:" + rs.getString(1);
                        } catch (SQLException e) {
                            return err(e);
                        }
                    });
                    Thread.sleep(1500);
                    s.cancel();
                    String res = f.get();
                    return res + "|ms=" + (System.nanoTime() - start) / 1000000;
                } finally {
                    ex.shutdownNow();
                }
            });
            step("cancel_still_running", () -> {
                // The processlist as root sees it, polled for up to 10 s.
                long n = -1;
                for (int i = 0; i < 100; i++) {
                    try (Statement s = root.createStatement();
                            ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%events a, events b%' AND ID <> CONNECTION_ID()")) {
                        rs.next();
                        n = rs.getLong(1);
                    }
                    if (n == 0) {
                        break;
                    }
                    Thread.sleep(100);
                }
                return n;
            });
            step("cancel_then", () -> {
                try (Statement s = analyst.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(DISTINCT distinct_id) FROM events")) {
                    rs.next();
                    return rs.getLong(1);
                }
            });

            // The read-only analyst: writes refused with 1142, plain and prepared.
            step("analyst_insert", () -> {
                try (Statement s = analyst.createStatement()) {
                    return s.executeUpdate("INSERT INTO events (time, event, distinct_id) VALUES ('2025-02-01 00:00:00', 'x', 'y')");
                }
            });
            step("analyst_insert_prepared", () -> {
                try (PreparedStatement ps = analyst.prepareStatement("INSERT INTO events (time, event, distinct_id) VALUES (?, ?, ?)")) {
                    ps.setTimestamp(1, Timestamp.valueOf("2025-02-01 00:00:00"));
                    ps.setString(2, "x");
                    ps.setString(3, "y");
                    return ps.executeUpdate();
                }
            });
            step("final_count", () -> {
                try (Statement s = root.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM events")) {
                    rs.next();
                    return rs.getLong(1);
                }
            });
        }
        put("done", "yes");
    }
}
