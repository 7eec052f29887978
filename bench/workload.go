package main

// workload.go owns the deterministic generator of the product-analytics
// workload (/work/shared/peers.md) and its on-disk cache.
//
// INVARIANT: the same (events, seed) always yields byte-identical output,
// so every engine, and every rerun, sees the same data.
// INVARIANT: each user's first event is its only Signup, and no user has
// two events in the same second.
//
// Cache file (TSV, one event a line, '\n'-terminated, no header), columns:
//
//	time  event  distinct_id  $os  $browser  $city  plan  utm_source  amount
//
// time is 'YYYY-MM-DD HH:MM:SS' UTC (whole seconds: ClickHouse 18.16's
// DateTime has no fraction), amount is '\N' (NULL) except on Purchase,
// utm_source may be empty. No field holds a tab, newline, quote or
// backslash. Events carry no insert_id. The file is time-ordered.

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Workload constants shared with the queries in queries.go: data covers
// [dataStart, dataStart+days) UTC.
var dataStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	days          = 90
	usersPerEvent = 20 // N events, N/20 users
	secondsPerDay = 86400
)

// eventNames are the non-Signup events in Zipf(1) rank order: Page View is
// the most frequent (25 %), Purchase at rank 8 is 1/8/H(30) ≈ 3.1 %.
var eventNames = []string{
	"Page View", "Click", "Search", "Scroll", "View Item", "Add To Cart", "Login", "Purchase",
	"Share", "Comment", "Like", "Logout", "Video Play", "Video Pause", "Download", "Upload",
	"Settings Changed", "Invite Sent", "Notification Opened", "Checkout Started", "Remove From Cart",
	"Wishlist Add", "Rating Given", "Support Ticket", "Form Submitted", "File Exported",
	"Filter Applied", "Subscription Upgraded", "Error Shown", "App Opened",
}

const signupName = "Signup"

// weighted is a categorical distribution over values.
type weighted struct {
	values []string
	cdf    []float64 // cumulative, last = 1
}

func newWeighted(values []string, weights []float64) weighted {
	if len(values) != len(weights) {
		panic("newWeighted: values and weights differ in length")
	}
	cdf := make([]float64, len(weights))
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	acc := 0.0
	for i, w := range weights {
		acc += w / sum
		cdf[i] = acc
	}
	cdf[len(cdf)-1] = 1
	return weighted{values: values, cdf: cdf}
}

func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), s)
	}
	return w
}

func (w weighted) pick(r *rand.Rand) int {
	u := r.Float64()
	i, _ := slices.BinarySearch(w.cdf, u)
	if i >= len(w.cdf) {
		i = len(w.cdf) - 1
	}
	return i
}

var (
	osDist = newWeighted(
		[]string{"Windows", "Android", "iOS", "Mac OS X", "Linux", "Chrome OS"},
		[]float64{35, 25, 18, 12, 5, 5})
	// browserByOS: 12 browsers in all, each OS family its own mix.
	browserByOS = map[string]weighted{
		"Windows":   newWeighted([]string{"Chrome", "Microsoft Edge", "Firefox", "Opera", "Brave", "Vivaldi"}, []float64{60, 20, 10, 5, 3, 2}),
		"Mac OS X":  newWeighted([]string{"Chrome", "Safari", "Firefox", "Brave", "Opera"}, []float64{45, 40, 8, 4, 3}),
		"Linux":     newWeighted([]string{"Chrome", "Firefox", "Brave", "Vivaldi"}, []float64{50, 40, 5, 5}),
		"Chrome OS": newWeighted([]string{"Chrome"}, []float64{1}),
		"iOS":       newWeighted([]string{"Mobile Safari", "Chrome iOS", "Firefox iOS"}, []float64{75, 20, 5}),
		"Android":   newWeighted([]string{"Chrome Mobile", "Samsung Internet", "Firefox"}, []float64{70, 22, 8}),
	}
	cityDist  = newWeighted(cityNames(3000), zipfWeights(3000, 1.0))
	planDist  = newWeighted([]string{"free", "pro", "enterprise"}, []float64{80, 17, 3})
	utmDist   = newWeighted([]string{"", "google", "facebook", "twitter", "linkedin", "newsletter", "bing", "reddit", "youtube", "producthunt", "partner", "tiktok"}, []float64{40, 20, 10, 5, 5, 5, 3, 3, 3, 2, 2, 2})
	nameDist  = newWeighted(eventNames, zipfWeights(len(eventNames), 1.0))
	hourDist  = newWeighted(hourNames(), diurnalWeights())
	amountMu  = map[string]float64{"free": 3.0, "pro": 3.8, "enterprise": 5.0} // log-normal location
	amountSig = 0.9
)

func cityNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("City %04d", i+1)
	}
	return out
}

func hourNames() []string {
	out := make([]string, 24)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// diurnalWeights: quiet at 03–06 UTC, busiest in the (European and
// American) afternoon and evening.
func diurnalWeights() []float64 {
	w := make([]float64, 24)
	for h := range w {
		w[h] = 1.2 + math.Sin(2*math.Pi*(float64(h)-9)/24) // peak ~15 UTC, trough ~03 UTC
	}
	return w
}

// user is one generated user: stable super-properties and an activity
// window [signupDay, lastDay].
type user struct {
	id                           string // 16 hex characters
	os, browser, city, plan, utm string
	signup                       int64 // seconds since dataStart
	signupDay, lastDay           int
	weight                       float64 // Pareto(1.5) activity
}

// genEvent is one generated event: its time in seconds since dataStart,
// its user index, its name (-1: Signup) and, on Purchase, amount in cents.
type genEvent struct {
	sec   uint32
	user  uint32
	cents uint32
	name  int8
}

// splitmix64 is a bijection on uint64, so distinct user numbers give
// distinct ids.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// timeOfDay draws a diurnal second of the day.
func timeOfDay(r *rand.Rand) int64 {
	return int64(hourDist.pick(r))*3600 + int64(r.IntN(3600))
}

// generate builds the workload of n events in time order.
func generate(n int, seed uint64) ([]user, []genEvent) {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	nUsers := max(n/usersPerEvent, 1)
	users := make([]user, nUsers)
	// Signup days grow over the period: density ∝ 1 + day/days.
	signupDays := make([]float64, days)
	for d := range signupDays {
		signupDays[d] = 1 + float64(d)/days
	}
	signupDist := newWeighted(make([]string, days), signupDays)
	cum := make([]float64, nUsers)
	total := 0.0
	for i := range users {
		u := &users[i]
		u.id = fmt.Sprintf("%016x", splitmix64(seed<<32^uint64(i)))
		u.os = osDist.values[osDist.pick(r)]
		b := browserByOS[u.os]
		u.browser = b.values[b.pick(r)]
		u.city = cityDist.values[cityDist.pick(r)]
		u.plan = planDist.values[planDist.pick(r)]
		u.utm = utmDist.values[utmDist.pick(r)]
		u.signupDay = signupDist.pick(r)
		// Signup strictly before the last second of its day, so that every
		// later event of the user can be strictly after it the same day.
		tod := min(timeOfDay(r), secondsPerDay-2)
		u.signup = int64(u.signupDay)*secondsPerDay + tod
		u.weight = math.Pow(1-r.Float64(), -1/1.5) // Pareto(1.5), x_m = 1
		meanDays := 3 * math.Pow(u.weight, 0.7)    // lifetime grows with activity
		u.lastDay = min(u.signupDay+int(r.ExpFloat64()*meanDays), days-1)
		total += u.weight
		cum[i] = total
	}
	events := make([]genEvent, 0, n)
	for i, u := range users {
		events = append(events, genEvent{sec: uint32(u.signup), user: uint32(i), name: -1})
	}
	sample := func() genEvent {
		ui, _ := slices.BinarySearch(cum, r.Float64()*total)
		ui = min(ui, nUsers-1)
		u := &users[ui]
		day := u.signupDay + r.IntN(u.lastDay-u.signupDay+1)
		sec := int64(day)*secondsPerDay + timeOfDay(r)
		if sec <= u.signup {
			// Same day, before the signup: move it after the signup.
			dayEnd := int64(u.signupDay+1) * secondsPerDay
			sec = u.signup + 1 + r.Int64N(dayEnd-u.signup-1)
		}
		name := int8(nameDist.pick(r))
		e := genEvent{sec: uint32(sec), user: uint32(ui), name: name}
		if eventNames[name] == "Purchase" {
			amount := math.Exp(amountMu[u.plan] + amountSig*r.NormFloat64())
			e.cents = uint32(max(math.Round(amount*100), 1))
		}
		return e
	}
	for len(events) < n {
		events = append(events, sample())
	}
	// No user has two events in one second, so every funnel form sees one
	// order of a user's events (ClickHouse's windowFunnel orders ties
	// arbitrarily): an event that ties with the one before it of its user
	// is drawn afresh (user included, so a user too busy for its window
	// cannot stall this), until no tie is left.
	byUser := func(a, b genEvent) int { return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.sec, b.sec)) }
	for {
		slices.SortFunc(events, byUser)
		redrawn := 0
		for i := 1; i < len(events); i++ {
			if events[i].user == events[i-1].user && events[i].sec == events[i-1].sec {
				events[i] = sample()
				redrawn++
			}
		}
		if redrawn == 0 {
			break
		}
	}
	// (sec, user) is unique now: a total order.
	slices.SortFunc(events, func(a, b genEvent) int { return cmp.Or(cmp.Compare(a.sec, b.sec), cmp.Compare(a.user, b.user)) })
	return users, events
}

// generatorVersion is part of the cache file name: bump it whenever the
// generator's output changes, so stale caches are not reused.
const generatorVersion = 3

// cachePath names the cache file of one (events, seed).
func cachePath(dir string, n int, seed uint64) string {
	return filepath.Join(dir, fmt.Sprintf("events-v%d-%d-%d.tsv", generatorVersion, n, seed))
}

// ensureDataset returns the cache file for (n, seed), generating it first
// when missing. It is published by rename, so a half-written file is never
// taken for a cache hit.
func ensureDataset(dir string, n int, seed uint64) (string, error) {
	path := cachePath(dir, n, seed)
	if _, err := os.Stat(path); err == nil {
		logf("dataset: cached %s", path)
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	start := time.Now()
	users, events := generate(n, seed)
	logf("dataset: generated %d events of %d users in %s", len(events), len(users), time.Since(start).Round(time.Millisecond))
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", tmp, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	for _, e := range events {
		line = appendTSV(line[:0], users, e)
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("publish %s: %w", path, err)
	}
	logf("dataset: wrote %s in %s", path, time.Since(start).Round(time.Millisecond))
	return path, nil
}

func appendTSV(b []byte, users []user, e genEvent) []byte {
	u := &users[e.user]
	b = dataStart.Add(time.Duration(e.sec)*time.Second).AppendFormat(b, time.DateTime)
	b = append(b, '\t')
	if e.name < 0 {
		b = append(b, signupName...)
	} else {
		b = append(b, eventNames[e.name]...)
	}
	for _, s := range []string{u.id, u.os, u.browser, u.city, u.plan, u.utm} {
		b = append(b, '\t')
		b = append(b, s...)
	}
	b = append(b, '\t')
	if e.cents > 0 {
		b = strconv.AppendUint(b, uint64(e.cents/100), 10)
		b = append(b, '.', byte('0'+e.cents/10%10), byte('0'+e.cents%10))
	} else {
		b = append(b, `\N`...)
	}
	return append(b, '\n')
}
