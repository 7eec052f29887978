import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.Properties;

/**
 * MariaDB Connector/J with useServerPrepStmts=true (COM_STMT_PREPARE/EXECUTE, as
 * Metabase and DBeaver can be set to send) against arb: GROUP BY ... WITH ROLLUP
 * and EXPLAIN FORMAT=JSON prepared with a parameter, the JDBC types of DATE
 * values, and numbers beyond 64 bits bound with setBigDecimal and inside a JSON
 * parameter.
 *
 * <p>Usage: java -cp mariadb-java-client.jar:DIR PreparedCompat PORT
 *
 * <p>Prints "key TAB value" lines; integration/prepared_compat_test.go asserts
 * them. A step's failure is printed as "error|code|sqlstate|message".
 */
public class PreparedCompat {
    static void put(String key, Object value) {
        System.out.println(key + "\t" + String.valueOf(value).replace('\n', ' ').replace('\t', ' '));
        System.out.flush();
    }

    static String err(SQLException e) {
        return "error|" + e.getErrorCode() + "|" + e.getSQLState() + "|" + e.getMessage();
    }

    /** rows is a result's rows as "a,b;c,d" (NULL for SQL NULL). */
    static String rows(ResultSet rs) throws SQLException {
        StringBuilder b = new StringBuilder();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            if (b.length() > 0) b.append(';');
            for (int i = 1; i <= n; i++) {
                if (i > 1) b.append(',');
                String v = rs.getString(i);
                b.append(v == null ? "NULL" : v);
            }
        }
        return b.toString();
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", "root");
        p.setProperty("password", "");
        try (Connection c = DriverManager.getConnection("jdbc:mariadb://127.0.0.1:" + args[0] + "/default?useServerPrepStmts=true", p)) {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT event, count(*), max(amount) FROM events WHERE amount > ? GROUP BY event WITH ROLLUP")) {
                for (int v : new int[] {2, 6}) {
                    ps.setInt(1, v);
                    try (ResultSet rs = ps.executeQuery()) {
                        put("rollup_" + v, rows(rs));
                    }
                }
            } catch (SQLException e) {
                put("rollup_2", err(e));
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "EXPLAIN FORMAT=JSON SELECT event, count(*) FROM events WHERE amount > ? GROUP BY event")) {
                ps.setInt(1, 2);
                try (ResultSet rs = ps.executeQuery()) {
                    put("explain_json_columns", rs.getMetaData().getColumnLabel(1));
                    put("explain_json", rows(rs));
                }
            } catch (SQLException e) {
                put("explain_json", err(e));
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT DATE '2024-01-01', CURDATE(), DATE(time), TIMESTAMP '2024-01-01 10:00:00' FROM events WHERE amount > ? LIMIT 1")) {
                ps.setInt(1, 0);
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData md = rs.getMetaData();
                    StringBuilder b = new StringBuilder();
                    for (int i = 1; i <= md.getColumnCount(); i++) {
                        if (i > 1) b.append(',');
                        b.append(md.getColumnTypeName(i)).append('/').append(md.getColumnType(i));
                    }
                    put("date_types", b);
                    rs.next();
                    put("date_literal", rs.getDate(1));
                }
            } catch (SQLException e) {
                put("date_types", err(e));
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO events (time, event, distinct_id, big, properties) VALUES ('2025-01-09 00:00:00', 'J', 'jdbc', ?, ?)")) {
                ps.setBigDecimal(1, new BigDecimal("18446744073709551615"));
                ps.setString(2, "{\"jbig\": 123456789012345678901234567890, \"jneg\": -9223372036854775809}");
                put("insert", ps.executeUpdate());
            } catch (SQLException e) {
                put("insert", err(e));
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT CAST(big AS CHAR), CAST(jbig AS CHAR), CAST(jneg AS CHAR) FROM events WHERE distinct_id = ?")) {
                ps.setString(1, "jdbc");
                try (ResultSet rs = ps.executeQuery()) {
                    put("numbers", rows(rs));
                }
            } catch (SQLException e) {
                put("numbers", err(e));
            }
        }
        put("done", "yes");
    }
}
