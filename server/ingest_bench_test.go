package server

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImport measures /import throughput: 2,000-event JSON batches
// (Mixpanel-shaped, unique $insert_id each) from 8 concurrent clients
// over loopback HTTP, each acknowledged only once durable. It reports
// events/s, the p99 request latency, and the process's CPU time per event
// (client included): on a shared machine the wall-clock figures swing
// with other load, the CPU figure much less.
//
//	go test ./server -run '^$' -bench BenchmarkImport -benchtime 200x -count 5
func BenchmarkImport(b *testing.B) {
	srv := startTestServer(b, b.TempDir())
	url := "http://" + srv.HTTPAddr() + "/import?strict=1"
	const batch, clients = 2000, 8
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var seq atomic.Int64
	makeBody := func(k int) []byte {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i := 0; i < batch; i++ {
			n := seq.Add(1)
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"event":"%s","properties":{"time":%d,"distinct_id":"u%d","$insert_id":"b%d-%d","$os":"%s","$browser":"Chrome","$city":"City%d","plan":"%s","utm_source":"src%d","amount":%d.5}}`,
				[]string{"Page View", "Signup", "Purchase", "Search"}[n%4], base+n*37, n%50000, k, n,
				[]string{"Windows", "Mac OS X", "Linux", "iOS"}[n%4], n%300, []string{"free", "pro", "team"}[n%3], n%20, n%100)
		}
		buf.WriteByte(']')
		return buf.Bytes()
	}
	bodies := make([][]byte, b.N) // generated before timing: unique insert ids per request
	for k := range bodies {
		bodies[k] = makeBody(k)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	cpu0 := cpuTime()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= b.N {
					return
				}
				req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[k]))
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth("sec", "")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat)*batch)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(len(lat)*batch), "cpu-µs/event")
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
