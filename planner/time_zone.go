package planner

// Session time zone conversions for arb's time functions, as
// go-mysql-server's sql.ConvertTimeZone computes them but with each zone
// name resolved once per process: sql.ConvertTimeZone calls
// time.LoadLocation for every value, and for an offset such as "+00:00"
// (what time_zone = SYSTEM becomes on a UTC machine) that reads the
// zoneinfo archive and fails before the offset is parsed — 45 µs a row,
// which made UNIX_TIMESTAMP(time) the whole cost of Grafana's time
// buckets.
//
// INVARIANT: convertTimeZone(t, from, to) == sql.ConvertTimeZone(t, from,
// to) for every t and zone name (time_zone_test.go).

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
)

// zoneRule is how a zone name reads a wall clock: a location, or a fixed
// MySQL offset; ok is false for a name that is neither.
type zoneRule struct {
	loc    *time.Location
	offset time.Duration
	ok     bool
}

var zoneRules sync.Map // zone name → zoneRule

func zoneRuleOf(name string) zoneRule {
	if r, ok := zoneRules.Load(name); ok {
		return r.(zoneRule)
	}
	var r zoneRule
	if loc, err := time.LoadLocation(name); err == nil {
		r = zoneRule{loc: loc, ok: true}
	} else if d, err := sql.MySQLOffsetToDuration(name); err == nil {
		r = zoneRule{offset: d, ok: true}
	}
	zoneRules.Store(name, r)
	return r
}

// wallIn is sql.ConvertTimeToLocation: t's wall clock read in zone r, as
// an instant in UTC.
func (r zoneRule) wallIn(t time.Time) time.Time {
	if r.loc != nil {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), r.loc).UTC()
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).Add(-r.offset)
}

// convertTimeZone is sql.ConvertTimeZone with cached zone names.
func convertTimeZone(t time.Time, from, to string) (time.Time, bool) {
	if from == to {
		return t, true
	}
	f, g := zoneRuleOf(from), zoneRuleOf(to)
	if !f.ok || !g.ok {
		return time.Time{}, false
	}
	return t.Add(f.wallIn(t).Sub(g.wallIn(t))), true
}

// sessionTimeZone is function.SessionTimeZone (@@time_zone, SYSTEM as
// the system's current offset) with the system offset, which it formats
// anew for every value, kept for the second it was read in.
func sessionTimeZone(ctx *sql.Context) (string, error) {
	v, err := ctx.GetSessionVariable(ctx, "time_zone")
	if err != nil {
		return "", err
	}
	tz, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("invalid type for @@session.time_zone: %T", v)
	}
	if tz != "SYSTEM" {
		return tz, nil
	}
	now := time.Now().Unix()
	if c := systemOffset.Load(); c != nil && c.second == now {
		return c.offset, nil
	}
	off := sql.SystemTimezoneOffset()
	systemOffset.Store(&cachedOffset{second: now, offset: off})
	return off, nil
}

type cachedOffset struct {
	second int64
	offset string
}

var systemOffset atomic.Pointer[cachedOffset]
