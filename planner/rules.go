package planner

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Rule ids: unused by go-mysql-server (its own ids stay below 1000).
const (
	rulePushFilter    analyzer.RuleId = 1001
	rulePushAggregate analyzer.RuleId = 1002
	rulePushCohort    analyzer.RuleId = 1003
	ruleIntDiv        analyzer.RuleId = 1004
	ruleDateArith     analyzer.RuleId = 1005
	rulePlanNative    analyzer.RuleId = 1006
	ruleClock         analyzer.RuleId = 1007
	ruleTemporalNums  analyzer.RuleId = 1008
	ruleExactSums     analyzer.RuleId = 1009
	ruleTimeCasts     analyzer.RuleId = 1010
)

// PushdownVariable is the session variable that turns arb's rules off
// (SET arb_pushdown = 0), for differential tests and for diagnosis.
const PushdownVariable = "arb_pushdown"

// Register adds arb's rules to an analyzer under construction and
// declares the arb_pushdown variable (call once per process).
func Register(b *analyzer.Builder) *analyzer.Builder {
	sql.SystemVariables.AddSystemVariables([]sql.SystemVariable{&sql.MysqlSystemVariable{
		Name:    PushdownVariable,
		Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Both),
		Dynamic: true,
		Type:    types.NewSystemBoolType(PushdownVariable),
		Default: int8(1),
	}})
	// replaceIntDiv (MySQL's DIV) must see every statement. As a
	// pre-analyze rule it runs in the full analysis; go-mysql-server
	// skips that for a simple SELECT (one table, maybe a WHERE) unless
	// AlwaysBeforeDefault is non-empty, and there it runs for the simple
	// INSERT, UPDATE and DELETE paths too. The rule is idempotent.
	analyzer.AlwaysBeforeDefault = append(analyzer.AlwaysBeforeDefault,
		analyzer.Rule{Id: ruleIntDiv, Apply: replaceIntDiv},
		analyzer.Rule{Id: ruleDateArith, Apply: replaceDateArith},          // date_arith.go; idempotent too
		analyzer.Rule{Id: ruleClock, Apply: replaceClock},                  // clock_functions.go; idempotent too
		analyzer.Rule{Id: ruleTimeCasts, Apply: replaceTimeCasts},          // time_cast.go; idempotent too
		analyzer.Rule{Id: ruleTemporalNums, Apply: replaceTemporalNumbers}, // temporal_numbers.go; after the clock's types
		analyzer.Rule{Id: ruleExactSums, Apply: replaceExactSums})          // exact_sum.go; idempotent
	return b.AddPreAnalyzeRule(rulePushCohort, pushCohort).
		AddPreAnalyzeRule(ruleIntDiv, replaceIntDiv).
		AddPreAnalyzeRule(ruleDateArith, replaceDateArith).
		AddPreAnalyzeRule(ruleClock, replaceClock).
		AddPreAnalyzeRule(ruleTimeCasts, replaceTimeCasts).
		AddPreAnalyzeRule(ruleTemporalNums, replaceTemporalNumbers).
		AddPreAnalyzeRule(ruleExactSums, replaceExactSums).
		AddPostAnalyzeRule(rulePushFilter, pushFilter).
		AddPostAnalyzeRule(rulePushAggregate, pushAggregate)
}

// pushdownEnabled reads arb_pushdown for the session.
func pushdownEnabled(ctx *sql.Context) bool {
	v, err := ctx.GetSessionVariable(ctx, PushdownVariable)
	if err != nil {
		return true
	}
	switch x := v.(type) {
	case int8:
		return x != 0
	case int64:
		return x != 0
	case bool:
		return x
	}
	return true
}
