package storage

import (
	"fmt"
	"testing"
)

// benchEventBatch is a 2,000-event batch shaped like bench's dataset:
// six string properties, an amount on a third of the events.
func benchEventBatch() *EventBatch {
	b := &EventBatch{Project: "bench"}
	for i := 0; i < 2000; i++ {
		props := []Prop{
			{"$browser", StringValue("Chrome")},
			{"$city", StringValue(fmt.Sprintf("City %04d", i%300))},
			{"$os", StringValue([]string{"Windows", "Mac OS X", "Linux", "iOS"}[i%4])},
			{"plan", StringValue([]string{"free", "pro", "team"}[i%3])},
			{"utm_source", StringValue(fmt.Sprintf("src%d", i%20))},
		}
		if i%3 == 0 {
			props = append(props, Prop{"amount", FloatValue(float64(i%100) + 0.5)})
		}
		b.Events = append(b.Events, Event{TimeMillis: 1735689600000 + int64(i)*37000, Name: "Page View",
			DistinctID: fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15), Props: props})
	}
	return b
}

// BenchmarkDecodeEventBatch measures the WAL batch codec both ways (WAL
// replay, LOAD DATA's spool and the replicated log decode every batch).
func BenchmarkDecodeEventBatch(b *testing.B) {
	batch := benchEventBatch()
	enc := AppendEventBatch(nil, batch)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := DecodeEventBatch(enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
	})
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		buf := make([]byte, 0, len(enc))
		for i := 0; i < b.N; i++ {
			buf = AppendEventBatch(buf[:0], batch)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
	})
}

// TestDecodedEventsAreSeparate checks that events decoded from one batch,
// whose Props and strings share blocks, do not share Props storage:
// storage fits and drops props in place, and an append to one event's
// Props must not change the next one's.
func TestDecodedEventsAreSeparate(t *testing.T) {
	batch := benchEventBatch()
	got, err := DecodeEventBatch(AppendEventBatch(nil, batch))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got.Events) != fmt.Sprintf("%+v", batch.Events) {
		t.Fatal("decoded events differ from the encoded ones")
	}
	for i := range got.Events[:len(got.Events)-1] {
		e, next := &got.Events[i], &got.Events[i+1]
		before := next.Props[0]
		e.Props = append(e.Props, Prop{"extra", IntValue(int64(i))})
		if next.Props[0] != before {
			t.Fatalf("appending to event %d's props changed event %d's: %+v", i, i+1, next.Props[0])
		}
	}
}
