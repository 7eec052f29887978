package planner

// This file owns STR_TO_DATE's year-and-week formats, which
// go-mysql-server answers with NULL: %X%V (weeks from Sunday, Metabase's
// "by week" grain: STR_TO_DATE(CONCAT(YEARWEEK(t),' Sunday'),'%X%V %W')),
// %x%v (ISO weeks from Monday), %Y%U and %Y%u. A format with none of
// those goes to go-mysql-server's STR_TO_DATE unchanged.
//
// The date is computed as MySQL 8 does (sql-common/my_time and
// extract_date_time): from 1 January of the year, step to the first day of
// week 1 (the first Sunday for %V/%U; for %v/%u the Monday of the week
// holding 1 January if that is a Monday to Thursday, else the next
// Monday), then add whole weeks and the weekday. A week without a weekday
// (%W, %a or %w) is NULL, as is %V without %X or %v without %x.

import (
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/planbuilder/dateparse"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// strToDate is go-mysql-server's STR_TO_DATE with week formats added.
type strToDate struct {
	*function.StrToDate
}

func newStrToDate(ctx *sql.Context, date, format sql.Expression) sql.Expression {
	return &strToDate{function.NewStrToDate(ctx, date, format).(*function.StrToDate)}
}

// hasWeekFormat reports whether format uses a year-and-week specifier.
func hasWeekFormat(format string) bool {
	for i := 0; i+1 < len(format); i++ {
		if format[i] == '%' {
			switch format[i+1] {
			case 'X', 'x', 'V', 'v', 'U', 'u':
				return true
			}
			i++
		}
	}
	return false
}

func (s *strToDate) Type(ctx *sql.Context) sql.Type {
	if f, ok := literalString(s.Format); ok && hasWeekFormat(f) {
		return types.Date
	}
	return s.StrToDate.Type(ctx)
}

func (s *strToDate) WithChildren(ctx *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != 2 {
		return nil, sql.ErrInvalidArgumentNumber.New("STR_TO_DATE", 2, len(ch))
	}
	return newStrToDate(ctx, ch[0], ch[1]), nil
}

// Eval is STR_TO_DATE as MySQL 8 has it: NULL when either argument is
// NULL, other values read as their text (STR_TO_DATE(20240102,
// '%Y%m%d')); go-mysql-server's refuses both ("invalid type: <nil>").
func (s *strToDate) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	f, err := s.Format.Eval(ctx, row)
	if err != nil || f == nil {
		return nil, err
	}
	d, err := s.Date.Eval(ctx, row)
	if err != nil || d == nil {
		return nil, err
	}
	format, ok := evalText(ctx, f)
	if !ok {
		return nil, nil
	}
	str, ok := evalText(ctx, d)
	if !ok {
		return nil, nil
	}
	if !hasWeekFormat(format) {
		t, err := dateparse.ParseDateWithFormat(str, format)
		if err != nil {
			ctx.Warn(1411, "Incorrect value: '%s' for function %s", str, s.FunctionName())
			return nil, nil
		}
		return t, nil
	}
	t, ok := parseWeekDate(str, format)
	if !ok {
		ctx.Warn(1411, "Incorrect datetime value: '%v' for function str_to_date", d)
		return nil, nil
	}
	return t, nil
}

// evalText is v as text (LongText's conversion); false if it has none.
func evalText(ctx *sql.Context, v any) (string, bool) {
	if str, ok := v.(string); ok {
		return str, true
	}
	t, _, err := types.LongText.Convert(ctx, v)
	if err != nil {
		return "", false
	}
	str, ok := t.(string)
	return str, ok
}

// weekFields is what a week format read from its input.
type weekFields struct {
	year, weekYear int // -1: not given
	week           int // -1: not given
	weekLetter     byte
	weekYearLetter byte
	weekday        int // MySQL's numbering, Monday 1 … Sunday 7; 0: not given
}

// parseWeekDate reads s by format (date-only specifiers) and returns the
// date its year, week and weekday name.
func parseWeekDate(s, format string) (time.Time, bool) {
	w := weekFields{year: -1, weekYear: -1, week: -1}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == ' ' || c == '\t' || c == '\n' {
			s = strings.TrimLeft(s, " \t\n")
			continue
		}
		if c != '%' || i+1 == len(format) {
			if s == "" || s[0] != c {
				return time.Time{}, false
			}
			s = s[1:]
			continue
		}
		i++
		var n int
		var ok bool
		switch spec := format[i]; spec {
		case 'Y', 'X', 'x':
			if n, s, ok = readDigits(s, 4); !ok {
				return time.Time{}, false
			}
			if spec == 'Y' {
				w.year = n
			} else {
				w.weekYear, w.weekYearLetter = n, spec
			}
		case 'V', 'v', 'U', 'u':
			if n, s, ok = readDigits(s, 2); !ok {
				return time.Time{}, false
			}
			w.week, w.weekLetter = n, spec
		case 'W', 'a':
			if w.weekday, s, ok = readWeekday(s, spec == 'a'); !ok {
				return time.Time{}, false
			}
		case 'w':
			if n, s, ok = readDigits(s, 1); !ok || n > 6 {
				return time.Time{}, false
			}
			w.weekday = n
			if n == 0 {
				w.weekday = 7
			}
		case '%':
			if s == "" || s[0] != '%' {
				return time.Time{}, false
			}
			s = s[1:]
		default:
			return time.Time{}, false
		}
	}
	return w.date()
}

// date resolves the fields as MySQL does (see the file comment).
func (w weekFields) date() (time.Time, bool) {
	if w.week < 0 || w.weekday == 0 {
		return time.Time{}, false
	}
	sundayFirst := w.weekLetter == 'V' || w.weekLetter == 'U'
	year := w.year
	switch w.weekLetter {
	case 'V', 'v':
		// %V goes with %X and %v with %x (the same case of letter).
		if w.weekYearLetter != w.weekLetter+('X'-'V') || w.week < 1 {
			return time.Time{}, false
		}
		year = w.weekYear
	default:
		if w.weekYear >= 0 {
			return time.Time{}, false
		}
	}
	if year < 0 || year > 9999 || w.week > 53 {
		return time.Time{}, false
	}
	jan1 := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	var days int
	if sundayFirst {
		wd := int(jan1.Weekday()) // Sunday 0
		if wd != 0 {
			days = 7 - wd
		}
		days += (w.week-1)*7 + w.weekday%7
	} else {
		wd := (int(jan1.Weekday()) + 6) % 7 // Monday 0
		if wd > 3 {
			days = 7
		}
		days += -wd + (w.week-1)*7 + w.weekday - 1
	}
	t := jan1.AddDate(0, 0, days)
	if t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// readDigits reads 1 to max leading digits of s.
func readDigits(s string, max int) (int, string, bool) {
	n, i := 0, 0
	for i < len(s) && i < max && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, s[i:], i > 0
}

// weekdayNames in MySQL's numbering order, Monday first.
var weekdayNames = [...]string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// readWeekday reads a weekday name (full, or its first three letters when
// abbrev) and returns its MySQL number, Monday 1 … Sunday 7.
func readWeekday(s string, abbrev bool) (int, string, bool) {
	lower := strings.ToLower(s)
	for i, name := range weekdayNames {
		if abbrev {
			name = name[:3]
		}
		if strings.HasPrefix(lower, name) {
			return i + 1, s[len(name):], true
		}
	}
	return 0, s, false
}
