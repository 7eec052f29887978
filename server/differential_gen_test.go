package server

// The query grammar of TestAnalyticsPushdownDifferential: what analysts
// write over events. Every query it makes is valid for go-mysql-server
// (`plan` and `$browser` backquoted), and says whether its ORDER BY fixes
// a total order of the result rows (then the rows compare in order).
// A LIMIT is only ever written under a total order, since under a partial
// one either path may legitimately keep other rows.

import (
	"fmt"
	"math/rand"
	"strings"
	"time"
)

// diffQuery is one generated query.
type diffQuery struct {
	sql     string
	kind    string // the shape, for the run's statistics
	ordered bool   // the ORDER BY is total: compare rows in order
	funnel  bool   // uses window_funnel or retention
}

// diffGen draws queries from the grammar.
type diffGen struct {
	r    *rand.Rand
	data *diffData
}

func newDiffGen(r *rand.Rand, data *diffData) *diffGen { return &diffGen{r: r, data: data} }

func (g *diffGen) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }
func (g *diffGen) chance(n int) bool        { return g.r.Intn(n) == 0 }

// query draws one query of a random shape.
func (g *diffGen) query() diffQuery {
	// Weights trade coverage for run time: through go-mysql-server's row
	// operators a cohort (a semi-join reading every column) or a
	// retention costs several aggregates.
	switch x := g.r.Intn(100); {
	case x < 15:
		return g.analystSQL() // differential_sql_gen_test.go
	case x < 25:
		return g.filterCount()
	case x < 71:
		return g.aggregate("", "aggregate")
	case x < 81:
		return g.projection()
	case x < 85:
		return g.cohort()
	case x < 97:
		return g.funnel()
	default:
		return g.retention()
	}
}

// A column of events as the grammar knows it.
type diffColumn struct {
	name string // as written in SQL
	kind byte   // 's' string, 'i' int, 'f' float, 'b' bool, 't' time
	// values to compare with (strings unquoted); for numbers a range.
	values []string
	lo, hi int
}

var diffColumns = []diffColumn{
	{name: "event", kind: 's', values: append(append([]string{}, diffEventNames...), "Signup", "$identify", "$create_alias", "purchase", "Nope")},
	{name: "distinct_id", kind: 's'},
	{name: "raw_distinct_id", kind: 's'},
	{name: "insert_id", kind: 's', values: []string{"0", "1", "7f", "a", "ff"}},
	{name: "`$browser`", kind: 's', values: append(append([]string{}, diffBrowsers...), "chrome", "")},
	{name: "`$os`", kind: 's', values: append(append([]string{}, diffOSes...), "Mac", "ios")},
	{name: "`plan`", kind: 's', values: []string{"free", "pro", "enterprise", "Pro", ""}},
	{name: "utm_source", kind: 's', values: append(append([]string{}, diffUTMSources...), "bing")},
	{name: "coupon", kind: 's', values: []string{"SAVE10", "SAVE20", "WELCOME", "SAVE", ""}},
	{name: "ver", kind: 's', values: append(append([]string{}, diffVersions...), "3", "5")},
	{name: "`$device_id`", kind: 's'},
	{name: "items", kind: 'i', lo: 0, hi: 6},
	{name: "amount", kind: 'f', lo: 0, hi: 210},
	{name: "score", kind: 'f', lo: -5, hi: 1005},
	{name: "is_trial", kind: 'b'},
	{name: "time", kind: 't'},
}

func (g *diffGen) column(kinds string) diffColumn {
	for {
		c := diffColumns[g.r.Intn(len(diffColumns))]
		if strings.IndexByte(kinds, c.kind) >= 0 {
			return c
		}
	}
}

// value is a literal of c's kind, mostly one that occurs.
func (g *diffGen) value(c diffColumn) string {
	switch c.kind {
	case 's':
		if c.values == nil {
			if g.chance(15) {
				return "'nobody'"
			}
			return diffLiteral(g.data.ids[g.r.Intn(len(g.data.ids))])
		}
		return diffLiteral(c.values[g.r.Intn(len(c.values))])
	case 'i':
		return fmt.Sprint(c.lo + g.r.Intn(c.hi-c.lo+1))
	case 'f':
		if g.chance(2) {
			return fmt.Sprint(c.lo + g.r.Intn(c.hi-c.lo+1))
		}
		return fmt.Sprintf("%.3f", float64(c.lo)+g.r.Float64()*float64(c.hi-c.lo))
	case 'b':
		return g.pick("true", "false", "1", "0", "TRUE")
	}
	return g.timeLiteral()
}

// instant is a random moment of the data's range (a little beyond it at
// the edges), often on a day or hour boundary.
func (g *diffGen) instant() time.Time {
	d := g.data
	at := d.start.Add(time.Duration(g.r.Int63n(int64(time.Duration(d.days+2)*24*time.Hour))) - 24*time.Hour)
	switch g.r.Intn(4) {
	case 0:
		return at.Truncate(24 * time.Hour)
	case 1:
		return at.Truncate(time.Hour)
	case 2:
		return at.Truncate(time.Second)
	}
	return at.Truncate(time.Millisecond)
}

// timeLiteral writes a moment the ways analysts do: typed, or as a
// string go-mysql-server converts.
func (g *diffGen) timeLiteral() string {
	at := g.instant()
	s := at.Format("2006-01-02 15:04:05")
	if at.Nanosecond() != 0 {
		s = at.Format("2006-01-02 15:04:05.000")
	}
	switch g.r.Intn(6) {
	case 0, 1:
		return fmt.Sprintf("CAST('%s' AS DATETIME)", s)
	case 2:
		return fmt.Sprintf("TIMESTAMP('%s')", s)
	case 3:
		return fmt.Sprintf("CAST('%s' AS DATETIME(3))", s)
	case 4:
		if at.Equal(at.Truncate(24 * time.Hour)) {
			return "'" + at.Format("2006-01-02") + "'"
		}
	}
	return "'" + s + "'"
}

// atom is one comparison.
func (g *diffGen) atom() string {
	switch g.r.Intn(14) {
	case 0, 1:
		c := g.column("s")
		return fmt.Sprintf("%s %s %s", c.name, g.pick("=", "=", "!=", "<>"), g.value(c))
	case 2:
		c := g.column("si")
		vals := []string{g.value(c)}
		for n := g.r.Intn(3); n > 0; n-- {
			vals = append(vals, g.value(c))
		}
		return fmt.Sprintf("%s %s (%s)", c.name, g.pick("IN", "IN", "NOT IN"), strings.Join(vals, ", "))
	case 3:
		return fmt.Sprintf("%s %s", g.column("sifbt").name, g.pick("IS NULL", "IS NOT NULL"))
	case 4:
		c := g.column("s")
		prefix := strings.Trim(g.value(c), "'")
		if len(prefix) > 0 {
			prefix = prefix[:1+g.r.Intn(len(prefix))]
		}
		return fmt.Sprintf("%s %s '%s%%'", c.name, g.pick("LIKE", "LIKE", "NOT LIKE"), prefix)
	case 5, 6:
		c := g.column("if")
		return fmt.Sprintf("%s %s %s", c.name, g.pick("<", "<=", ">", ">=", "=", "!="), g.value(c))
	case 7:
		c := g.column("if")
		a, b := g.value(c), g.value(c)
		return fmt.Sprintf("%s %s %s AND %s", c.name, g.pick("BETWEEN", "BETWEEN", "NOT BETWEEN"), a, b)
	case 8:
		return g.pick("is_trial", "NOT is_trial", "is_trial = true", "is_trial = 0", "is_trial IS TRUE")
	case 9, 10:
		return fmt.Sprintf("time %s %s", g.pick("<", "<=", ">", ">=", "="), g.timeLiteral())
	case 11:
		from := g.instant()
		to := from.Add(time.Duration(1+g.r.Intn(72)) * time.Hour)
		return fmt.Sprintf("time BETWEEN CAST('%s' AS DATETIME) AND CAST('%s' AS DATETIME)", from.Format("2006-01-02 15:04:05"), to.Format("2006-01-02 15:04:05"))
	case 12:
		return fmt.Sprintf("%s = %s", g.pick("distinct_id", "raw_distinct_id", "distinct_id", "distinct_id"), g.value(diffColumn{kind: 's'}))
	}
	return fmt.Sprintf("event = %s", diffLiteral(diffEventNames[g.r.Intn(len(diffEventNames))]))
}

// filter is a boolean combination of atoms, depth at most depth.
func (g *diffGen) filter(depth int) string {
	if depth == 0 || g.chance(3) {
		return g.atom()
	}
	switch g.r.Intn(5) {
	case 0, 1:
		return "(" + g.filter(depth-1) + " AND " + g.filter(depth-1) + ")"
	case 2, 3:
		return "(" + g.filter(depth-1) + " OR " + g.filter(depth-1) + ")"
	}
	return "NOT " + g.filter(depth-1)
}

// where is an optional WHERE clause.
func (g *diffGen) where() string {
	if g.chance(5) {
		return ""
	}
	return " WHERE " + g.filter(2)
}

func (g *diffGen) filterCount() diffQuery {
	return diffQuery{kind: "filter", sql: "SELECT count(*) FROM events WHERE " + g.filter(3)}
}

// diffAgg is an aggregate expression; exact when its value does not
// depend on the order rows are added in (so it may order a LIMIT).
type diffAgg struct {
	sql   string
	exact bool
}

func (g *diffGen) agg() diffAgg {
	switch g.r.Intn(10) {
	case 0, 1:
		return diffAgg{"count(*)", true}
	case 2:
		return diffAgg{fmt.Sprintf("count(%s)", g.column("sifbt").name), true}
	case 3:
		return diffAgg{"count(DISTINCT distinct_id)", true}
	case 4:
		return diffAgg{fmt.Sprintf("count(DISTINCT %s)", g.column("sifb").name), true}
	case 5:
		c := g.column("if")
		return diffAgg{fmt.Sprintf("sum(%s)", c.name), c.kind == 'i'}
	case 6:
		return diffAgg{fmt.Sprintf("avg(%s)", g.column("if").name), false}
	case 7, 8:
		return diffAgg{fmt.Sprintf("%s(%s)", g.pick("min", "max"), g.column("sifbt").name), true}
	}
	return diffAgg{fmt.Sprintf("%s(%s)", g.pick("min", "max"), g.column("if").name), true}
}

// groupKey is a GROUP BY expression: a column or a time bucket.
func (g *diffGen) groupKey() string {
	if g.chance(2) {
		if g.chance(3) {
			// BI tools' buckets, which native evaluates once per bucket
			// (native/expr_grain.go).
			return g.pick("STR_TO_DATE(CONCAT(DATE_FORMAT(time, '%Y-%m'), '-01'), '%Y-%m-%d')",
				"TIMESTAMP(DATE_FORMAT(time, '%Y-%m-01 00:00:00'))", "DATE(DATE_SUB(time, INTERVAL DAYOFWEEK(time) - 1 DAY))",
				"STR_TO_DATE(CONCAT(YEARWEEK(time), ' Sunday'), '%X%V %W')",
				"(MAKEDATE(YEAR(time), 1) + INTERVAL QUARTER(time) QUARTER - INTERVAL 1 QUARTER)",
				"DATE_ADD(DATE(time), INTERVAL (HOUR(time)) HOUR)", "UNIX_TIMESTAMP(time) DIV 300 * 300",
				"FROM_UNIXTIME(UNIX_TIMESTAMP(time) DIV 3600 * 3600)", "EXTRACT(YEAR_MONTH FROM time)")
		}
		return g.pick("DATE(time)", "DATE_FORMAT(time, '%Y-%m-%d %H:00:00')", "HOUR(time)", "WEEK(time)",
			"MONTH(time)", "YEARWEEK(time)", "DATE_FORMAT(time, '%Y-%m-%d')", "DAYOFWEEK(time)")
	}
	return g.pick("event", "event", "`$browser`", "`$os`", "`plan`", "utm_source", "is_trial", "items", "coupon", "ver", "distinct_id", "raw_distinct_id")
}

// aggregate is SELECT keys, aggregates FROM events WHERE … GROUP BY …
// [HAVING …] [ORDER BY … [LIMIT n]]; where, when not empty, replaces the
// random WHERE clause.
func (g *diffGen) aggregate(where, kind string) diffQuery {
	var keys []string
	for n := g.r.Intn(3); len(keys) < n; {
		if k := g.groupKey(); !diffContains(keys, k) {
			keys = append(keys, k)
		}
	}
	// A user key makes hundreds of groups: alone, it is enough (the row
	// path's grouping costs per group).
	if len(keys) == 2 && (strings.HasSuffix(keys[0], "distinct_id") || strings.HasSuffix(keys[1], "distinct_id")) {
		keys = keys[:1]
	}
	var aggs []diffAgg
	for n := 1 + g.r.Intn(3); n > 0; n-- {
		aggs = append(aggs, g.agg())
	}
	aliased := g.chance(2)
	var sel, keyRefs, aggRefs []string
	for i, k := range keys {
		ref := k
		if aliased {
			sel = append(sel, fmt.Sprintf("%s AS k%d", k, i))
			ref = fmt.Sprintf("k%d", i)
		} else {
			sel = append(sel, k)
		}
		keyRefs = append(keyRefs, ref)
	}
	for i, a := range aggs {
		ref := a.sql
		if aliased {
			sel = append(sel, fmt.Sprintf("%s AS a%d", a.sql, i))
			ref = fmt.Sprintf("a%d", i)
		} else {
			sel = append(sel, a.sql)
		}
		aggRefs = append(aggRefs, ref)
	}
	if where == "" {
		where = g.where()
	}
	q := diffQuery{kind: kind}
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(sel, ", ") + " FROM events" + where)
	if len(keys) > 0 {
		var by []string
		for i, k := range keys {
			switch {
			case g.chance(5):
				by = append(by, fmt.Sprint(i+1))
			case aliased && g.chance(4):
				by = append(by, keyRefs[i])
			default:
				by = append(by, k)
			}
		}
		b.WriteString(" GROUP BY " + strings.Join(by, ", "))
	}
	if g.chance(4) {
		b.WriteString(" HAVING " + g.having(aggs, aggRefs))
	}
	if len(keys) > 0 && g.chance(2) {
		// A total order: an exact aggregate perhaps, then every key.
		var order []string
		for i, a := range aggs {
			if a.exact && g.chance(2) {
				order = append(order, aggRefs[i]+g.pick("", " DESC", " ASC"))
			}
		}
		for _, i := range g.r.Perm(len(keys)) {
			ref := keyRefs[i]
			// go-mysql-server rejects ORDER BY the alias of a function
			// key unless GROUP BY names the alias too: use the ordinal.
			if g.chance(4) || aliased && strings.Contains(keys[i], "(") {
				ref = fmt.Sprint(i + 1)
			}
			order = append(order, ref+g.pick("", " DESC"))
		}
		b.WriteString(" ORDER BY " + strings.Join(order, ", "))
		if g.chance(3) {
			fmt.Fprintf(&b, " LIMIT %d", 1+g.r.Intn(20))
		}
		q.ordered = true
	}
	q.sql = b.String()
	return q
}

// having compares one of the aggregates (or count(*)) with a threshold;
// thresholds of inexact aggregates are off the sums' cent grid.
func (g *diffGen) having(aggs []diffAgg, refs []string) string {
	if g.chance(4) {
		return fmt.Sprintf("count(*) %s %d", g.pick(">", ">=", "<"), g.r.Intn(30))
	}
	i := g.r.Intn(len(aggs))
	a := aggs[i]
	switch {
	case strings.HasPrefix(a.sql, "count"):
		return fmt.Sprintf("%s %s %d", refs[i], g.pick(">", ">=", "<", "="), g.r.Intn(25))
	case !a.exact:
		return fmt.Sprintf("%s > %.6f", refs[i], g.r.Float64()*300+0.0001234)
	case strings.Contains(a.sql, "(time)"):
		return fmt.Sprintf("%s >= %s", refs[i], g.timeLiteral())
	}
	return fmt.Sprintf("%s IS NOT NULL", refs[i])
}

var diffProjectable = []string{"time", "event", "distinct_id", "raw_distinct_id", "insert_id", "`$browser`", "`$os`", "`plan`",
	"utm_source", "is_trial", "amount", "items", "score", "ver", "coupon"}

// projection is a plain SELECT of columns: ordered by every selected
// column (a total order of what is shown) under a LIMIT, or unordered.
func (g *diffGen) projection() diffQuery {
	if g.chance(10) {
		return diffQuery{kind: "projection", sql: "SELECT * FROM events WHERE " + g.atom() + " AND " + g.atom()}
	}
	var cols []string
	for _, i := range g.r.Perm(len(diffProjectable))[:1+g.r.Intn(5)] {
		cols = append(cols, diffProjectable[i])
	}
	if g.chance(5) {
		return diffQuery{kind: "distinct", sql: "SELECT DISTINCT " + strings.Join(cols, ", ") + " FROM events" + g.where()}
	}
	q := diffQuery{kind: "projection", sql: "SELECT " + strings.Join(cols, ", ") + " FROM events WHERE " + g.filter(3)}
	if g.chance(3) {
		return q
	}
	var order []string
	for _, c := range cols {
		order = append(order, c+g.pick("", " DESC"))
	}
	q.sql += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(order, ", "), 1+g.r.Intn(40))
	q.ordered = true
	return q
}

// cohort restricts to the users of a subquery: the Q8 retention shape,
// or any aggregate.
func (g *diffGen) cohort() diffQuery {
	sub := g.filter(2)
	if g.chance(2) {
		day := g.data.start.AddDate(0, 0, g.r.Intn(g.data.days))
		sub = fmt.Sprintf("event = %s AND time >= CAST('%s' AS DATETIME) AND time < CAST('%s' AS DATETIME)",
			diffLiteral(g.pick("Signup", "Signup", "Purchase", "Page View")), day.Format("2006-01-02 15:04:05"), day.AddDate(0, 0, 1+g.r.Intn(2)).Format("2006-01-02 15:04:05"))
	}
	in := "IN"
	if g.chance(8) {
		in = "NOT IN"
	}
	cond := fmt.Sprintf("distinct_id %s (SELECT distinct_id FROM events WHERE %s)", in, sub)
	if g.chance(3) {
		day := g.data.start.AddDate(0, 0, g.r.Intn(g.data.days))
		q := fmt.Sprintf("SELECT DATE(time), count(DISTINCT distinct_id) FROM events WHERE %s AND time >= CAST('%s' AS DATETIME) GROUP BY DATE(time)",
			cond, day.Format("2006-01-02 15:04:05"))
		ordered := g.chance(2)
		if ordered {
			q += " ORDER BY DATE(time)"
		}
		return diffQuery{kind: "cohort", sql: q, ordered: ordered}
	}
	if !g.chance(3) {
		cond += " AND " + g.filter(1)
	}
	return g.aggregate(" WHERE "+cond, "cohort")
}

// funnelSteps are window_funnel conditions.
func (g *diffGen) funnelSteps() []string {
	pool := []string{"event = 'Signup'", "event = 'Page View'", "event = 'Add to Cart'", "event = 'Purchase'",
		"event = 'Purchase' AND amount > 20", "event IN ('Click', 'Search')", "`$browser` = 'Chrome'", "event = 'Share'"}
	var steps []string
	for n := 1 + g.r.Intn(4); n > 0; n-- {
		steps = append(steps, pool[g.r.Intn(len(pool))])
	}
	return steps
}

// funnel is window_funnel per user, alone or counted per level.
func (g *diffGen) funnel() diffQuery {
	secs := []int{1, 60, 3600, 86400, 7 * 86400, 30 * 86400}[g.r.Intn(6)]
	call := fmt.Sprintf("window_funnel(%d, time, %s)", secs, strings.Join(g.funnelSteps(), ", "))
	where := ""
	if g.chance(3) {
		where = " WHERE " + g.filter(1)
	}
	inner := fmt.Sprintf("SELECT distinct_id, %s AS level FROM events%s GROUP BY distinct_id", call, where)
	switch g.r.Intn(3) {
	case 0:
		return diffQuery{kind: "funnel", funnel: true, sql: inner}
	case 1:
		return diffQuery{kind: "funnel", funnel: true, ordered: true,
			sql: fmt.Sprintf("%s ORDER BY level DESC, distinct_id LIMIT %d", inner, 1+g.r.Intn(30))}
	}
	return diffQuery{kind: "funnel", funnel: true, ordered: true,
		sql: fmt.Sprintf("SELECT level, count(*) FROM (%s) f GROUP BY level ORDER BY level", inner)}
}

// retention is retention(cond1, …) per user, alone or counted.
func (g *diffGen) retention() diffQuery {
	day := g.data.start.AddDate(0, 0, g.r.Intn(g.data.days-2))
	// The day as typed bounds: DATE(time) = '…' would convert every row
	// for every condition on the row path (seconds under -race).
	onDay := func(day time.Time) string {
		return fmt.Sprintf("time >= CAST('%s' AS DATETIME) AND time < CAST('%s' AS DATETIME)",
			day.Format("2006-01-02 15:04:05"), day.AddDate(0, 0, 1).Format("2006-01-02 15:04:05"))
	}
	conds := []string{onDay(day)}
	if g.chance(2) {
		conds[0] = "event = 'Signup' AND " + conds[0]
	}
	for n := 1 + g.r.Intn(3); n > 0; n-- {
		day = day.AddDate(0, 0, 1)
		conds = append(conds, onDay(day))
	}
	inner := fmt.Sprintf("SELECT distinct_id, retention(%s) AS r FROM events GROUP BY distinct_id", strings.Join(conds, ", "))
	if g.chance(2) {
		return diffQuery{kind: "retention", funnel: true, sql: inner}
	}
	return diffQuery{kind: "retention", funnel: true, sql: fmt.Sprintf("SELECT r, count(*) FROM (%s) t GROUP BY r", inner)}
}

func diffContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
