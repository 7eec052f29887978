package storage

// The compaction picker decides which segments of a day to merge, and
// when; the background compactor runs its picks one at a time.
//
// Policy, per (project, day), with delay = Options.CompactionDelay and
// max = Options.CompactionMaxSegments:
//
//   - A day is looked at once its newest segment is delay old (the day
//     is quiet), or at once when it holds max segments or more.
//   - The day's base is its largest whole-day merge (level 2), if any;
//     the rest are its newer segments. With no base, or when the rest
//     hold at least 1/8 of the base's rows, or when the day has been
//     quiet for 10 × delay, all its segments are merged into a new base.
//   - Otherwise, when the day holds max segments, the rest are merged
//     into one level-1 segment; below max, only the segments flushes
//     wrote (level 0, in time order) are, so that within a delay of its
//     last flush every row of a day is sorted by user.
//
// What this bounds: merges run one at a time, so while one runs the
// flushes of its duration pile up. A day holds at most max segments plus
// one per flush that lands during the longest merge: max + 1 while a
// whole-day merge takes less than a flush interval (a 10M-event day at
// the ~350k rows/s a merge runs on one core here, with the default
// one-minute flush), more when flushes come faster than merges finish
// (integration/steady_ingest_test.go measures it). The base is rewritten
// only when the newer rows reach 1/8 of it, so a day's rows are rewritten
// O(log n) times in whole merges; the level-1 segments, at most 1/8 of
// the base, are rewritten once per max - 1 flushes. A day that stops
// receiving data ends as one segment after 10 × delay.

import (
	"sort"
	"time"
)

const (
	defaultCompactionDelay       = 30 * time.Second
	defaultCompactionMaxSegments = 4
	// wholeMergeFraction: the rest are merged with the base once their
	// rows reach 1/wholeMergeFraction of the base's.
	wholeMergeFraction = 8
	// idleWholeMerges: a day quiet for this many delays ends as one
	// segment.
	idleWholeMerges = 10
)

// compactionPick is one merge the picker asks for.
type compactionPick struct {
	day    string
	inputs []*SegmentRef
	level  int
}

// pickCompaction applies the policy to one day's live segments (in
// storage order) at time now; ok is false when the day needs nothing.
func pickCompaction(segs []*SegmentRef, now time.Time, delay time.Duration, maxSegments int) (inputs []*SegmentRef, level int, ok bool) {
	if len(segs) == 0 || (len(segs) == 1 && segs[0].Level == levelMergedWhole) {
		return nil, 0, false
	}
	var newest time.Time
	for _, ref := range segs {
		if ref.madeAt.After(newest) {
			newest = ref.madeAt
		}
	}
	quietFor := now.Sub(newest)
	if quietFor < delay && len(segs) < maxSegments {
		return nil, 0, false
	}
	var base *SegmentRef
	for _, ref := range segs {
		if ref.Level == levelMergedWhole && (base == nil || ref.Segment.Rows() > base.Segment.Rows()) {
			base = ref
		}
	}
	var rest []*SegmentRef
	restRows := 0
	for _, ref := range segs {
		if ref != base {
			rest = append(rest, ref)
			restRows += ref.Segment.Rows()
		}
	}
	if base == nil || restRows*wholeMergeFraction >= base.Segment.Rows() || quietFor >= idleWholeMerges*delay {
		return segs, levelMergedWhole, true
	}
	if len(segs) >= maxSegments {
		return rest, levelMergedNew, true
	}
	// Quiet, and room for more segments: only what flushes wrote since
	// is merged (sorted by user), leaving the level-1 segments alone, so
	// a level-1 segment is rewritten once per max-1 flushes, not at each.
	var fresh []*SegmentRef
	for _, ref := range rest {
		if ref.Level == levelFlushed {
			fresh = append(fresh, ref)
		}
	}
	if len(fresh) > 0 {
		return fresh, levelMergedNew, true
	}
	return nil, 0, false
}

// pickDue returns the picks for every day of p at time now.
func (s *Store) pickDue(p *Project, now time.Time) []compactionPick {
	p.mu.RLock()
	byDay := map[string][]*SegmentRef{}
	for _, ref := range p.segments {
		byDay[ref.Day] = append(byDay[ref.Day], ref)
	}
	p.mu.RUnlock()
	var picks []compactionPick
	for day, segs := range byDay {
		if inputs, level, ok := pickCompaction(segs, now, s.opts.CompactionDelay, s.opts.CompactionMaxSegments); ok {
			picks = append(picks, compactionPick{day: day, inputs: inputs, level: level})
		}
	}
	// Days with the most segments first: they cost queries the most.
	sort.Slice(picks, func(i, j int) bool {
		if len(picks[i].inputs) != len(picks[j].inputs) {
			return len(picks[i].inputs) > len(picks[j].inputs)
		}
		return picks[i].day < picks[j].day
	})
	return picks
}

// compactDue runs every pick due now, one at a time, until the store
// closes. It returns after a failed run (the next tick tries again).
func (s *Store) compactDue() {
	for _, p := range s.storageProjects() {
		// Run merges (user_state_merge.go, user_index_merge.go); one
		// that fails keeps its inputs and is tried at the next tick,
		// and does not hold up the days' compactions below.
		s.compactMu.Lock()
		err := s.mergeUserStateDue(p)
		if err == nil {
			err = s.mergeUserIndexDue(p)
		}
		s.compactMu.Unlock()
		if err != nil {
			s.log.Warn("run merge failed; its inputs stay", "project", p.name, "err", err)
			if s.failure() != nil {
				return
			}
		}
		for _, pick := range s.pickDue(p, time.Now()) {
			select {
			case <-s.closing:
				return
			default:
			}
			s.compactMu.Lock()
			if !p.allLive(pick.inputs) { // a CompactDay call got there first
				s.compactMu.Unlock()
				continue
			}
			_, err := s.compactRecorded(p, pick.day, pick.inputs, pick.level)
			s.compactMu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// compactor is the background goroutine: it looks for due days after
// every flush and every tick, on a thread of lowered priority
// (compactor_priority_linux.go), so merges yield the CPU to ingest and
// queries.
func (s *Store) compactor() {
	defer s.flusherWG.Done()
	tid, err := lowerCompactorPriority()
	if err != nil {
		s.log.Warn("compactor: lower thread priority", "err", err)
	}
	s.compactorTID.Store(int64(tid))
	tick := time.NewTicker(max(s.opts.CompactionDelay/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-s.compactReq:
		case <-tick.C:
		}
		if s.failure() != nil {
			continue
		}
		s.compactDue()
	}
}

// requestCompaction asks the compactor to look soon; it never blocks.
func (s *Store) requestCompaction() {
	select {
	case s.compactReq <- struct{}{}:
	default:
	}
}
