package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mixpanel/mixpanel-go"
)

// TestGoSDK points the unmodified official Go SDK (mixpanel-go v1.2.1) at
// arb with ProxyApiLocation: Track, Import (gzip + strict, a failed strict
// batch, a wrong secret, size limits), Alias, Merge, PeopleSet and
// GroupSet. The SDK's own typed results and errors are checked, and every
// stored value through SQL.
func TestGoSDK(t *testing.T) {
	arb := startArb(t, "--project", "gosdk:tokgo:secgo")
	db := arb.DB()
	base := strings.TrimSuffix(arb.url(""), "/")
	httpClient := &http.Client{Timeout: time.Minute}
	mp := mixpanel.NewApiClient("tokgo", mixpanel.ProxyApiLocation(base), mixpanel.ApiSecret("secgo"), mixpanel.HttpClient(httpClient))
	ctx := context.Background()
	count := func() string {
		t.Helper()
		return queryString(t, db, "SELECT count(*) FROM gosdk.events")
	}
	t0 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

	t.Run("track", func(t *testing.T) {
		events := make([]*mixpanel.Event, 2)
		for i := range events {
			e := mp.NewEvent("GoTrack", "go-user-1", map[string]any{"plan": "pro", "n": i + 1})
			e.AddTime(t0.Add(time.Duration(i)*time.Second + 123*time.Millisecond))
			e.AddInsertID(fmt.Sprintf("gt-%d", i+1))
			events[i] = e
		}
		if err := mp.Track(ctx, events); err != nil {
			t.Fatalf("Track: %v", err)
		}
		expect(t, "tracked rows", queryString(t, db,
			"SELECT time, event, distinct_id, raw_distinct_id, insert_id, `plan`, n, mp_lib, `$lib_version` FROM gosdk.events WHERE event='GoTrack' ORDER BY time"),
			"2024-06-01T12:00:00.123Z|GoTrack|go-user-1|go-user-1|gt-1|pro|1|go|v1.2.0\n"+
				"2024-06-01T12:00:01.123Z|GoTrack|go-user-1|go-user-1|gt-2|pro|2|go|v1.2.0")
		expect(t, "token is not a column", queryString(t, db,
			"SELECT count(*) FROM information_schema.columns WHERE table_schema='gosdk' AND table_name='events' AND column_name IN ('token', '$insert_id')"), "0")

		// The same events again (a retry): stored once.
		if err := mp.Track(ctx, events); err != nil {
			t.Fatalf("Track resend: %v", err)
		}
		expect(t, "resend deduplicated", queryString(t, db, "SELECT count(*) FROM gosdk.events WHERE event='GoTrack'"), "2")
	})

	t.Run("track unknown token", func(t *testing.T) {
		before := count()
		bad := mixpanel.NewApiClient("no-such-token", mixpanel.ProxyApiLocation(base), mixpanel.HttpClient(httpClient))
		e := bad.NewEvent("GoNope", "go-x", nil)
		e.AddTime(t0)
		err := bad.Track(ctx, []*mixpanel.Event{e})
		var ve mixpanel.VerboseError
		if !errors.As(err, &ve) || ve.Status != 0 || !strings.Contains(ve.ApiError, "unknown project token") {
			t.Fatalf("Track with an unknown token: %#v (%v), want a VerboseError with status 0 and `unknown project token`", err, err)
		}
		expect(t, "nothing stored", count(), before)
	})

	t.Run("import gzip strict", func(t *testing.T) {
		events := make([]*mixpanel.Event, 100)
		for i := range events {
			e := mp.NewEvent("GoImport", fmt.Sprintf("go-imp-%d", i%7), map[string]any{"k": i, "src": "import"})
			e.AddTime(t0.Add(-time.Duration(i) * time.Minute))
			e.AddInsertID(fmt.Sprintf("gi-%03d", i))
			events[i] = e
		}
		if !mixpanel.ImportOptionsRecommend.Strict || mixpanel.ImportOptionsRecommend.Compression != mixpanel.Gzip {
			t.Fatalf("ImportOptionsRecommend is %+v, want strict and gzip", mixpanel.ImportOptionsRecommend)
		}
		res, err := mp.Import(ctx, events, mixpanel.ImportOptionsRecommend)
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		if res.Code != 200 || res.NumRecordsImported != 100 {
			t.Fatalf("Import: %+v, want code 200 and num_records_imported 100", *res)
		}
		expect(t, "imported rows", queryString(t, db,
			"SELECT count(*), count(DISTINCT insert_id), CAST(sum(k) AS SIGNED), count(DISTINCT distinct_id), min(time), max(time) FROM gosdk.events WHERE event='GoImport'"),
			"100|100|4950|7|2024-06-01T10:21:00Z|2024-06-01T12:00:00Z")
		expect(t, "one imported row", queryString(t, db,
			"SELECT distinct_id, insert_id, k, src, mp_lib FROM gosdk.events WHERE event='GoImport' AND insert_id='gi-042'"),
			"go-imp-0|gi-042|42|import|go")

		// Resent without gzip, not strict: acknowledged, stored once.
		res, err = mp.Import(ctx, events, mixpanel.ImportOptions{Strict: false, Compression: mixpanel.None})
		if err != nil {
			t.Fatalf("Import resend: %v", err)
		}
		if res.Code != 200 || res.NumRecordsImported != 100 {
			t.Fatalf("Import resend: %+v, want code 200 and num_records_imported 100", *res)
		}
		expect(t, "resend deduplicated", queryString(t, db, "SELECT count(*) FROM gosdk.events WHERE event='GoImport'"), "100")
	})

	t.Run("import strict bad time", func(t *testing.T) {
		before := count()
		events := make([]*mixpanel.Event, 3)
		for i := range events {
			e := mp.NewEvent("GoBad", "go-bad", map[string]any{"i": i})
			e.AddTime(t0)
			e.AddInsertID(fmt.Sprintf("gb-%d", i))
			events[i] = e
		}
		events[1].AddTime(time.Date(1960, 5, 1, 0, 0, 0, 0, time.UTC))
		res, err := mp.Import(ctx, events, mixpanel.ImportOptions{Strict: true, Compression: mixpanel.None})
		var fe mixpanel.ImportFailedValidationError
		if !errors.As(err, &fe) {
			t.Fatalf("Import with a 1960 time: %v (%+v), want an ImportFailedValidationError", err, res)
		}
		if fe.Code != 400 || fe.NumRecordsImported != 0 || fe.ApiError == "" || fmt.Sprint(fe.Status) != "Bad Request" {
			t.Fatalf("400 body: %+v, want code 400, status Bad Request, an error and num_records_imported 0", fe)
		}
		if len(fe.FailedImportRecords) != 1 {
			t.Fatalf("failed_records: %+v, want exactly the record at index 1", fe.FailedImportRecords)
		}
		fr := fe.FailedImportRecords[0]
		if fr.Index != 1 || fr.InsertID != "gb-1" || fr.Field != "properties.time" || fr.Message == "" {
			t.Fatalf("failed record %+v, want index 1, insert_id gb-1, field properties.time and a message", fr)
		}
		expect(t, "nothing of the failed batch stored", queryString(t, db, "SELECT count(*) FROM gosdk.events WHERE event='GoBad'"), "0")
		expect(t, "count unchanged", count(), before)
	})

	t.Run("import wrong secret", func(t *testing.T) {
		before := count()
		wrong := mixpanel.NewApiClient("tokgo", mixpanel.ProxyApiLocation(base), mixpanel.ApiSecret("wrong"), mixpanel.HttpClient(httpClient))
		e := wrong.NewEvent("GoWrongSecret", "go-w", nil)
		e.AddTime(t0)
		e.AddInsertID("gw-1")
		_, err := wrong.Import(ctx, []*mixpanel.Event{e}, mixpanel.ImportOptionsRecommend)
		var ge mixpanel.ImportGenericError
		if !errors.As(err, &ge) || ge.Code != 401 || ge.ApiError != "Invalid credentials" || fmt.Sprint(ge.Status) != "Unauthorized" {
			t.Fatalf("Import with a wrong secret: %#v (%v), want ImportGenericError{401, Invalid credentials, Unauthorized}", err, err)
		}
		// Merge (a form post to /import) with the wrong secret: 401 too.
		err = wrong.Merge(ctx, "go-w", "go-w2")
		var he mixpanel.HttpError
		if !errors.As(err, &he) || he.Status != 401 || !strings.Contains(he.Body, "Invalid credentials") {
			t.Fatalf("Merge with a wrong secret: %#v (%v), want HttpError 401 naming Invalid credentials", err, err)
		}
		expect(t, "nothing stored", count(), before)
	})

	t.Run("import too large", func(t *testing.T) {
		before := count()
		// One record over 1 MB. The SDK checks only the record count, so
		// the server's 413 reaches it; gzip shrinks the body to a few KB,
		// but the limits are on the uncompressed size.
		big := mp.NewEvent("GoBig", "go-big", map[string]any{"blob": strings.Repeat("x", 1<<20+10)})
		big.AddTime(t0)
		big.AddInsertID("gbig-1")
		small := mp.NewEvent("GoBig", "go-big", nil)
		small.AddTime(t0)
		small.AddInsertID("gbig-0")
		for _, opts := range []mixpanel.ImportOptions{mixpanel.ImportOptionsRecommend, {Strict: true, Compression: mixpanel.None}} {
			_, err := mp.Import(ctx, []*mixpanel.Event{small, big}, opts)
			var ge mixpanel.ImportGenericError
			if !errors.As(err, &ge) || ge.Code != 413 || fmt.Sprint(ge.Status) != "Request Entity Too Large" || !strings.Contains(ge.ApiError, "exceeds max limit") {
				t.Fatalf("Import of a >1 MB record (%+v): %#v (%v), want ImportGenericError 413 `exceeds max limit`", opts, err, err)
			}
		}

		// Eleven records just under 1 MB each: the body is over 10 MB.
		var batch []*mixpanel.Event
		for i := 0; i < 11; i++ {
			e := mp.NewEvent("GoHuge", "go-big", map[string]any{"blob": strings.Repeat("y", 1000*1000)})
			e.AddTime(t0)
			e.AddInsertID(fmt.Sprintf("ghuge-%d", i))
			batch = append(batch, e)
		}
		_, err := mp.Import(ctx, batch, mixpanel.ImportOptionsRecommend)
		var ge mixpanel.ImportGenericError
		if !errors.As(err, &ge) || ge.Code != 413 || !strings.Contains(ge.ApiError, "exceeds max limit") {
			t.Fatalf("Import of an 11 MB batch: %#v (%v), want ImportGenericError 413 `exceeds max limit`", err, err)
		}
		expect(t, "nothing of the refused batches stored", queryString(t, db, "SELECT count(*) FROM gosdk.events WHERE event IN ('GoBig', 'GoHuge')"), "0")
		expect(t, "count unchanged", count(), before)
	})

	t.Run("alias", func(t *testing.T) {
		if err := mp.Alias(ctx, "go-alias-1", "go-user-1"); err != nil {
			t.Fatalf("Alias: %v", err)
		}
		e := mp.NewEvent("GoAliased", "go-alias-1", nil)
		e.AddTime(t0.Add(time.Minute))
		e.AddInsertID("ga-1")
		if err := mp.Track(ctx, []*mixpanel.Event{e}); err != nil {
			t.Fatalf("Track with the alias: %v", err)
		}
		expect(t, "alias resolves to the original id", queryString(t, db,
			"SELECT distinct_id, raw_distinct_id FROM gosdk.events WHERE event='GoAliased'"), "go-user-1|go-alias-1")
		expect(t, "one user", queryString(t, db,
			"SELECT count(DISTINCT distinct_id), count(*) FROM gosdk.events WHERE event IN ('GoTrack', 'GoAliased')"), "1|3")
	})

	t.Run("merge", func(t *testing.T) {
		events := []*mixpanel.Event{
			mp.NewEvent("GoMerge", "go-m1", map[string]any{"step": 1}),
			mp.NewEvent("GoMerge", "go-m2", map[string]any{"step": 2}),
			mp.NewEvent("GoMerge", "go-m2", map[string]any{"step": 3}),
		}
		for i, e := range events {
			e.AddTime(t0.Add(time.Duration(i) * time.Second))
			e.AddInsertID(fmt.Sprintf("gm-%d", i))
		}
		if _, err := mp.Import(ctx, events, mixpanel.ImportOptionsRecommend); err != nil {
			t.Fatalf("Import: %v", err)
		}
		expect(t, "two users before the merge", queryString(t, db,
			"SELECT count(DISTINCT distinct_id) FROM gosdk.events WHERE event='GoMerge'"), "2")
		if err := mp.Merge(ctx, "go-m1", "go-m2"); err != nil {
			t.Fatalf("Merge: %v", err)
		}
		expect(t, "one user after the merge", queryString(t, db,
			"SELECT count(DISTINCT distinct_id), count(*) FROM gosdk.events WHERE event='GoMerge'"), "1|3")
		expect(t, "canonical is one of the two", queryString(t, db,
			"SELECT count(*) FROM gosdk.events WHERE event='GoMerge' AND distinct_id IN ('go-m1', 'go-m2')"), "3")
		expect(t, "raw ids kept", queryString(t, db,
			"SELECT group_concat(raw_distinct_id ORDER BY step SEPARATOR ',') FROM gosdk.events WHERE event='GoMerge'"), "go-m1,go-m2,go-m2")

		// Merge needs the secret: a client with only the token is refused.
		tokenOnly := mixpanel.NewApiClient("tokgo", mixpanel.ProxyApiLocation(base), mixpanel.HttpClient(httpClient))
		var he mixpanel.HttpError
		if err := tokenOnly.Merge(ctx, "go-m1", "go-other"); !errors.As(err, &he) || he.Status != 401 {
			t.Fatalf("Merge without the secret: %#v (%v), want HttpError 401", err, err)
		}
	})

	t.Run("people", func(t *testing.T) {
		p := mixpanel.NewPeopleProperties("go-user-1", map[string]any{"plan": "enterprise", "seats": 12})
		p.SetReservedProperty(mixpanel.PeopleNameProperty, "Gopher")
		p.SetReservedProperty(mixpanel.PeopleEmailProperty, "gopher@example.com")
		q := mixpanel.NewPeopleProperties("go-user-2", map[string]any{"plan": "free"})
		q.SetReservedProperty(mixpanel.PeopleNameProperty, "Gordon")
		if err := mp.PeopleSet(ctx, []*mixpanel.PeopleProperties{p, q}); err != nil {
			t.Fatalf("PeopleSet: %v", err)
		}
		expect(t, "go-user-1 profile", queryString(t, db,
			"SELECT `$name`, `plan`, `$email`, seats FROM gosdk.people WHERE distinct_id='go-user-1'"),
			"Gopher|enterprise|gopher@example.com|12")
		expect(t, "go-user-2 profile", queryString(t, db,
			"SELECT `$name`, `plan` FROM gosdk.people WHERE distinct_id='go-user-2'"), "Gordon|free")
		// The SDK sends a top-level "$ip":"0" (no geolocation): a
		// modifier, not a profile property.
		expect(t, "$ip is not a profile column", queryString(t, db,
			"SELECT count(*) FROM information_schema.columns WHERE table_schema='gosdk' AND table_name='people' AND column_name IN ('$ip', '$token', '$distinct_id')"), "0")

		// A $set through the alias lands on the canonical profile.
		if err := mp.PeopleSet(ctx, []*mixpanel.PeopleProperties{mixpanel.NewPeopleProperties("go-alias-1", map[string]any{"plan": "team"})}); err != nil {
			t.Fatalf("PeopleSet via the alias: %v", err)
		}
		expect(t, "profile set via the alias", queryString(t, db,
			"SELECT distinct_id, `$name`, `plan` FROM gosdk.people WHERE distinct_id IN ('go-user-1', 'go-alias-1') ORDER BY distinct_id"),
			"go-user-1|Gopher|team")
		expect(t, "the people table joins the events", queryString(t, db,
			"SELECT p.`$name`, count(*) FROM gosdk.events e JOIN gosdk.people p ON p.distinct_id = e.distinct_id WHERE e.event IN ('GoTrack', 'GoAliased') GROUP BY p.`$name`"),
			"Gopher|3")
	})

	t.Run("groups", func(t *testing.T) {
		if err := mp.GroupSet(ctx, "company", "acme", map[string]any{"name": "Acme Inc", "seats": 25, "industry": "anvils"}); err != nil {
			t.Fatalf("GroupSet: %v", err)
		}
		if err := mp.GroupSet(ctx, "company", "acme", map[string]any{"seats": 30}); err != nil {
			t.Fatalf("GroupSet again: %v", err)
		}
		expect(t, "acme", queryString(t, db,
			"SELECT group_key, group_id, name, seats, industry FROM gosdk.groups WHERE group_key='company' AND group_id='acme'"),
			"company|acme|Acme Inc|30|anvils")
		expect(t, "one group row", queryString(t, db, "SELECT count(*) FROM gosdk.groups"), "1")
	})

	t.Run("durable", func(t *testing.T) {
		before := count()
		arb.Kill()
		arb.Restart()
		db = arb.DB()
		expect(t, "events after kill -9", count(), before)
		expect(t, "aliased after kill -9", queryString(t, db,
			"SELECT distinct_id FROM gosdk.events WHERE event='GoAliased'"), "go-user-1")
		expect(t, "merged after kill -9", queryString(t, db,
			"SELECT count(DISTINCT distinct_id) FROM gosdk.events WHERE event='GoMerge'"), "1")
		expect(t, "profile after kill -9", queryString(t, db,
			"SELECT `$name`, `plan` FROM gosdk.people WHERE distinct_id='go-user-1'"), "Gopher|team")
		expect(t, "group after kill -9", queryString(t, db,
			"SELECT name, seats FROM gosdk.groups WHERE group_id='acme'"), "Acme Inc|30")
	})
}
