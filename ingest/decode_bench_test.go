package ingest

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// benchBody is a 2,000-record /import body shaped like bench's dataset
// (bench/arb.go httpImportLoader): seconds, six string properties, an
// amount on some; as a JSON array or as NDJSON.
func benchBody(ndjson bool) []byte {
	var buf bytes.Buffer
	if !ndjson {
		buf.WriteByte('[')
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := 0; i < maxRecords; i++ {
		if i > 0 && !ndjson {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"event":"%s","properties":{"time":%d,"distinct_id":"%016x","$os":"%s","$browser":"Chrome","$city":"City %04d","plan":"%s","utm_source":"src%d"`,
			[]string{"Page View", "Signup", "Purchase", "Search"}[i%4], base+int64(i)*37, uint64(i*7919)%50000*0x9e3779b97f4a7c15,
			[]string{"Windows", "Mac OS X", "Linux", "iOS"}[i%4], i%300, []string{"free", "pro", "team"}[i%3], i%20)
		if i%3 == 0 {
			fmt.Fprintf(&buf, `,"amount":%d.5`, i%100)
		}
		buf.WriteString("}}")
		if ndjson {
			buf.WriteByte('\n')
		}
	}
	if !ndjson {
		buf.WriteByte(']')
	}
	return buf.Bytes()
}

// BenchmarkDecodeImport measures the CPU of turning one 2,000-record
// /import body into storage events (decodePayload and parseRecords),
// without HTTP or storage, in CPU time per event (the process's, GC
// included).
func BenchmarkDecodeImport(b *testing.B) {
	for _, tc := range []struct {
		name, ctype string
		ndjson      bool
	}{{"json", "application/json", false}, {"ndjson", "application/x-ndjson", true}} {
		b.Run(tc.name, func(b *testing.B) {
			body := benchBody(tc.ndjson)
			r := httptest.NewRequest("POST", "/import", nil)
			r.Header.Set("Content-Type", tc.ctype)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				p, err := decodePayload(r, body, true)
				if err != nil {
					b.Fatal(err)
				}
				rules := &eventRules{endpoint: "import", now: time.Now()}
				parsed := rules.parseRecords(p)
				if parsed.errs[0] != nil {
					b.Fatal(parsed.errs[0])
				}
			}
			// CPU time, not wall-clock: on a shared machine it swings less.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*maxRecords), "cpu-ns/event")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
