package native

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
)

// translator turns one kind of go-mysql-server node into an operator.
// It returns a nil Operator and the reason when it cannot (a node it does
// not support in this form). Children go through tr.child, which never
// fails: an untranslatable child stays a go-mysql-server node.
type translator func(ctx *sql.Context, tr *Translation, n sql.Node) (Operator, string)

// translators by node type, filled by each operator's file in init.
var translators = map[reflect.Type]translator{}

// register declares how nodes of sample's type translate.
func register(sample sql.Node, fn translator) {
	t := reflect.TypeOf(sample)
	if _, dup := translators[t]; dup {
		panic(fmt.Sprintf("native: two translators for %s", t))
	}
	translators[t] = fn
}

// Translation is the state of translating one plan.
type Translation struct {
	// Left is every node left to go-mysql-server, with why.
	Left []string
	// derived counts the references to each derived table by its
	// definition (cte.go); complete once Translate returns.
	derived map[string]int
	// used holds "table.column" (lower case, by the name or alias the
	// plan reads the table under) for every column the statement
	// references; nil: every column counts as used. A scan reads only
	// these (columns.go).
	used map[string]bool
	// alias is the name the table being translated is read under (set
	// by the TableAlias above it).
	alias string
	// root is the plan Translate was given (nil: unknown).
	root sql.Node
}

// Translate returns n as a native operator, or nil and why not. Below n,
// every node that cannot be translated stays go-mysql-server's.
func Translate(ctx *sql.Context, n sql.Node) (Operator, string) {
	tr := &Translation{derived: map[string]int{}, used: usedColumns(ctx, n), root: n}
	return tr.node(ctx, n)
}

func (tr *Translation) node(ctx *sql.Context, n sql.Node) (op Operator, reason string) {
	if nn, ok := n.(*Node); ok {
		return nn.op, ""
	}
	if bn, ok := n.(BatchNode); ok { // batch_node.go
		return newBatchNodeOp(ctx, tr, bn), ""
	}
	fn, ok := translators[reflect.TypeOf(n)]
	if !ok {
		return nil, "no native " + nodeName(n)
	}
	defer func() {
		// A translator that panics on a form it did not foresee must not
		// take the statement down: the node stays go-mysql-server's.
		if r := recover(); r != nil {
			op, reason = nil, fmt.Sprintf("%s: %v", nodeName(n), r)
		}
	}()
	if op := antiJoinOf(ctx, tr, n); op != nil { // join_anti.go
		return op, ""
	}
	return fn(ctx, tr, n)
}

// child is n translated, or n itself behind the row boundary.
func (tr *Translation) child(ctx *sql.Context, n sql.Node) Operator {
	op, reason := tr.node(ctx, n)
	if op != nil {
		return op
	}
	tr.Left = append(tr.Left, reason)
	return &rowSource{node: n, sch: n.Schema(ctx), reason: reason}
}

// nodeName is a node's type name without the package ("Filter").
func nodeName(n sql.Node) string {
	s := fmt.Sprintf("%T", n)
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
