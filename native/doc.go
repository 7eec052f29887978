// Package native is arb's physical plan: vectorized operators that run a
// statement go-mysql-server has parsed, resolved and analyzed, in place of
// go-mysql-server's row-at-a-time operators.
//
// Translate walks an analyzed plan bottom-up and turns every node it
// supports into an Operator; a node it does not support stays a
// go-mysql-server node whose rows a rowSource turns into batches, and the
// Node at the top turns batches back into rows. Expressions compile to
// vectorized Exprs where this package implements them; any other
// expression is evaluated through go-mysql-server's own Eval for just that
// expression, row by row inside the native operator, so one unusual
// function never sends the whole statement to row operators.
//
// distinct_id from the events scan carries each row's canonical user
// number beside its string (Column.U, numbered by the snapshot's
// storage.UserIDs). The group table, COUNT DISTINCT, hash join tables
// and EXISTS sets key users by that number, because under the column's
// utf8mb4_bin collation equal numbers are exactly equal strings; rows
// whose column has no numbers (derived strings, literals, another
// numbering) meet them through the strings, which stay in every batch.
//
// Invariants:
//   - Every operator returns exactly the rows go-mysql-server's node
//     would: the same values of the same SQL types, NULLs by SQL's
//     three-valued logic, and the same order wherever the node defines
//     one (a scan reads parts in order; joins keep the probe side's order).
//   - A Batch's columns are read-only once an operator has returned it:
//     operators build new columns rather than change their input's.
//   - Operators that hold state (hash tables, sorts, materialised
//     subqueries) charge its bytes to the statement's memory budget.
//
// Import direction: planner → native → engine → storage; native imports
// go-mysql-server for types and for the Eval fallback.
package native
