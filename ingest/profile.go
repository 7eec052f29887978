package ingest

// /engage and /groups: profile updates (mixpanel-ingest.md §4). Each
// object names its project by $token, its profile by $distinct_id (or
// $group_key + $group_id), and carries exactly one operation; several
// operations in one object are refused, naming them.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"arb/storage"
)

// profileOps are the operations each endpoint accepts.
var profileOps = map[string][]string{
	"engage": {OpSet, OpSetOnce, OpAdd, OpAppend, OpUnion, OpRemove, OpUnset, OpDelete},
	"groups": {OpSet, OpSetOnce, OpUnion, OpRemove, OpUnset, OpDelete},
}

// allProfileOps are every operation key, to name unsupported ones.
var allProfileOps = map[string]bool{OpSet: true, OpSetOnce: true, OpAdd: true, OpAppend: true,
	OpUnion: true, OpRemove: true, OpUnset: true, OpDelete: true}

func (h *Handler) ingestProfiles(req *request, p *payload) (int, error) {
	table := storage.TablePeople
	if req.endpoint == "groups" {
		table = storage.TableGroups
	}
	now := time.Now()
	var project Applier
	var projectToken string
	var ops []storage.ProfileOp
	var bad recordErrors
	p, err := p.checked()
	if err != nil {
		return 0, err
	}
	for i, raw := range p.records {
		token, op, rerr := parseProfileOp(req.endpoint, i, raw, now)
		if rerr == nil && (project == nil || token != projectToken) {
			switch proj, ok := h.projectByToken(token); {
			case token == "":
				rerr = &recordError{Index: i, Field: "$token", Message: "$token, missing or empty"}
			case !ok:
				rerr = &recordError{Index: i, Field: "$token", Message: "unknown project token"}
			case project != nil:
				rerr = &recordError{Index: i, Field: "$token", Message: "records of one request must belong to one project"}
			default:
				project, projectToken = proj, token
			}
		}
		if rerr != nil {
			bad = append(bad, rerr)
			continue
		}
		ops = append(ops, *op)
	}
	if len(bad) > 0 {
		return 0, bad
	}
	if err := project.UpdateProfiles(table, ops); err != nil {
		var re *storage.RowError
		if errors.As(err, &re) {
			return 0, recordErrors{{Index: re.Row - 1, Field: re.Column, Message: re.Err.Error()}}
		}
		return 0, err
	}
	h.metrics.records.WithLabelValues(req.endpoint).Add(float64(len(ops)))
	return len(ops), nil
}

// parseProfileOp validates update i and returns its token and operation.
func parseProfileOp(endpoint string, i int, raw json.RawMessage, now time.Time) (string, *storage.ProfileOp, *recordError) {
	fail := func(field, format string, args ...any) (string, *storage.ProfileOp, *recordError) {
		return "", nil, &recordError{Index: i, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if !json.Valid(raw) || !utf8.Valid(raw) {
		return fail("$distinct_id", "string should be valid utf8")
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return fail("$distinct_id", "an update must be a JSON object")
	}
	token, _ := obj["$token"].(string)
	if token == "" {
		token, _ = obj["token"].(string)
	}
	op := &storage.ProfileOp{Time: now}
	if endpoint == "groups" {
		gk, ok1 := idText(obj["$group_key"])
		gid, ok2 := idText(obj["$group_id"])
		if !ok1 || gk == "" {
			return fail("$group_key", "$group_key, missing or empty")
		}
		if !ok2 || gid == "" {
			return fail("$group_id", "$group_id, missing or empty")
		}
		op.Key = storage.GroupRowKey(gk, gid)
	} else {
		id, ok := idText(obj["$distinct_id"])
		if !ok || id == "" {
			return fail("$distinct_id", "$distinct_id, missing or empty")
		}
		op.Key = id
	}
	switch v := obj["$ignore_time"].(type) {
	case bool:
		op.IgnoreTime = v
	case string:
		op.IgnoreTime = v == "true" || v == "1"
	}
	if t, ok := obj["$time"].(json.Number); ok {
		if f, err := t.Float64(); err == nil && !math.IsInf(f, 0) && f > 0 {
			if f < msThreshold {
				f *= 1000
			}
			op.Time = time.UnixMilli(int64(f))
		}
	}
	var found []string
	for k := range obj {
		if allProfileOps[k] {
			found = append(found, k)
		}
	}
	sort.Strings(found)
	switch {
	case len(found) == 0:
		return fail("operation", "no operation: give one of %s", strings.Join(profileOps[endpoint], ", "))
	case len(found) > 1:
		return fail("operation", "one operation per update, got %s", strings.Join(found, ", "))
	}
	op.Op = found[0]
	allowed := false
	for _, a := range profileOps[endpoint] {
		allowed = allowed || a == op.Op
	}
	if !allowed {
		return fail(op.Op, "%s is not supported on /%s", op.Op, endpoint)
	}
	val := obj[op.Op]
	switch op.Op {
	case OpDelete:
	case OpUnset:
		list, ok := val.([]any)
		if !ok {
			return fail(op.Op, "$unset needs a list of property names, got %s", shownJSON(val))
		}
		for _, k := range list {
			name, ok := k.(string)
			if !ok {
				return fail(op.Op, "$unset needs property names (strings), got %s", shownJSON(k))
			}
			op.Props = append(op.Props, storage.Prop{Key: name})
		}
	default:
		m, ok := val.(map[string]any)
		if !ok {
			return fail(op.Op, "%s needs an object of properties, got %s", op.Op, shownJSON(val))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := propertyValue(m[k])
			if err != nil {
				return fail(op.Op+"."+k, "%v", err)
			}
			_, isList := m[k].([]any)
			switch {
			case op.Op == OpAdd && v.Type != storage.TypeInt && v.Type != storage.TypeFloat:
				return fail(op.Op+"."+k, "$add needs a number, got %s", shownJSON(m[k]))
			case op.Op == OpUnion && !isList:
				return fail(op.Op+"."+k, "$union needs a list, got %s", shownJSON(m[k]))
			}
			if err := storage.ValidatePropertyKey(tableOf(endpoint), k); err != nil {
				return fail(op.Op+"."+k, "%v", err)
			}
			op.Props = append(op.Props, storage.Prop{Key: k, Value: v})
		}
	}
	return token, op, nil
}

func tableOf(endpoint string) string {
	if endpoint == "groups" {
		return storage.TableGroups
	}
	return storage.TablePeople
}

// idText reads an id given as a string or a number.
func idText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	}
	return "", false
}
