package cli

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rebind-dev/rebind/engine"
)

// progressFlags are how apply, resume and rollback show a run's progress.
type progressFlags struct {
	Verbose  bool
	Interval time.Duration
}

// defaultProgressInterval is how often, off a terminal, a running fan-out
// prints its summary line.
const defaultProgressInterval = 10 * time.Second

func (f *progressFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.Verbose, "verbose", false, "print a line for every instance of a fan-out as it is written and done, naming it")
	fs.DurationVar(&f.Interval, "progress-interval", defaultProgressInterval, "off a terminal, how often each running fan-out prints its summary line")
}

// attach makes e report its progress to ios.Err: on a terminal, one live
// line per running fan-out (drawn by mpb); elsewhere (a file, a pipe, CI,
// a terminal whose TERM is dumb, which cannot move its cursor) a
// summary line per running fan-out every f.Interval and one when it ends.
// The lines of steps that are not fan-outs print as they did. stop ends the
// display once the run returned; it must be called before anything else is
// printed to ios.Err.
func (f *progressFlags) attach(ios *IO, e *engine.Engine) (stop func()) {
	e.Verbose = f.Verbose
	interval := f.Interval
	if interval <= 0 {
		interval = defaultProgressInterval
	}
	var r *progress
	if ios.IsTerminal(ios.Err) && os.Getenv("TERM") != "dumb" {
		r = newTTYProgress(ios.Err)
	} else {
		r = newLineProgress(ios.Err, interval)
	}
	e.Log = r.log()
	e.Events = r.event
	return r.stop
}

// fanOut is what the display knows of one running fan-out. mu guards
// its counts: a bar's decorator reads them while the engine's goroutines
// add to them.
type fanOut struct {
	mu    sync.Mutex
	step  string
	phase string
	total int
	// ended counts the instances that ended, however; before those the
	// run had done before it stopped (a resume skips them at once, so
	// they count in ended but not in the rate).
	ended, before, failed, throttled int
	start, end                       time.Time
	finished                         bool
	bar                              *mpb.Bar
}

// rate is instances per second since the fan-out started, leaving out the
// instances done before a resume.
func (f *fanOut) rate(now time.Time) float64 {
	if f.finished {
		now = f.end
	}
	el := now.Sub(f.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(f.ended-f.before) / el
}

// tail is the part of the line after done / total: rate, ETA, failed,
// throttled.
func (f *fanOut) tail(now time.Time) string {
	r := f.rate(now)
	var b strings.Builder
	fmt.Fprintf(&b, "%s/s", formatRate(r))
	left := f.total - f.ended
	switch {
	case f.finished:
		fmt.Fprintf(&b, ", took %s", f.end.Sub(f.start).Round(time.Millisecond))
	case r > 0 && left > 0:
		eta := time.Duration(float64(left) / r * float64(time.Second))
		if eta < 10*time.Second {
			eta = eta.Round(100 * time.Millisecond)
		} else {
			eta = eta.Round(time.Second)
		}
		fmt.Fprintf(&b, ", ETA %s", eta)
	default:
		b.WriteString(", ETA ?")
	}
	fmt.Fprintf(&b, ", %d failed, %d throttled", f.failed, f.throttled)
	return b.String()
}

// lockedTail is tail under f's lock.
func (f *fanOut) lockedTail(now time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tail(now)
}

// line is the whole summary line of a fan-out.
func (f *fanOut) line(now time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := f.step
	if f.phase == "rollback" {
		name = "rollback"
	}
	pct := 100.0
	if f.total > 0 {
		pct = 100 * float64(f.ended) / float64(f.total)
	}
	state := "running"
	if f.finished {
		state = "finished"
	}
	return fmt.Sprintf("%s: %d/%d done (%.1f%%) %s, %s", name, f.ended, f.total, pct, state, f.tail(now))
}

func formatRate(r float64) string {
	if r >= 10 || r == 0 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

// progress renders a run's events. Its methods are safe for concurrent
// use: the events of a fan-out's instances come from many goroutines. mu
// guards runs and the writes to w; no bar method is called under it (mpb
// draws from its own goroutine and calls the decorators).
type progress struct {
	mu   sync.Mutex
	w    io.Writer // where lines go (nil on a terminal: through bars)
	out  io.Writer // the terminal, under the bars
	bars *mpb.Progress
	runs map[string]*fanOut // running fan-outs by step
	now  func() time.Time

	ticker *time.Ticker
	done   chan struct{}
	wg     sync.WaitGroup
}

// newTTYProgress draws one mpb bar per running fan-out on w, and prints the
// engine's lines above them.
func newTTYProgress(w io.Writer, opts ...mpb.ContainerOption) *progress {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(200 * time.Millisecond)}, opts...)
	return &progress{bars: mpb.New(opts...), out: w, runs: map[string]*fanOut{}, now: time.Now}
}

// newLineProgress prints a summary line of every running fan-out to w each
// interval, and one when a fan-out ends.
func newLineProgress(w io.Writer, interval time.Duration) *progress {
	p := &progress{w: w, runs: map[string]*fanOut{}, now: time.Now, done: make(chan struct{})}
	p.ticker = time.NewTicker(interval)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case <-p.done:
				return
			case <-p.ticker.C:
				p.tick()
			}
		}
	}()
	return p
}

// log is where the engine's own lines go: above the bars on a terminal;
// elsewhere to w, under the lock the summary lines are written with, so
// that the two never interleave.
func (p *progress) log() io.Writer {
	if p.bars != nil {
		return &barLog{p: p}
	}
	return &lineLog{p: p}
}

// barLog prints lines above the bars while they are drawn, and to the
// terminal itself after (mpb refuses writes once it has stopped).
type barLog struct{ p *progress }

func (l *barLog) Write(b []byte) (int, error) {
	n, err := l.p.bars.Write(b)
	if err != nil {
		return l.p.out.Write(b)
	}
	return n, nil
}

// lineLog writes the engine's lines off a terminal.
type lineLog struct{ p *progress }

func (l *lineLog) Write(b []byte) (int, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	return l.p.w.Write(b)
}

// tick prints the line of every running fan-out (off a terminal).
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	steps := slices.Sorted(maps.Keys(p.runs))
	for _, s := range steps {
		fmt.Fprintf(p.w, "  [progress] %s\n", p.runs[s].line(now))
	}
}

// event counts one engine event.
func (p *progress) event(ev engine.Event) {
	key := ev.Phase + " " + ev.Step
	if ev.Kind == engine.StepStarted {
		if ev.FanOut {
			p.start(key, ev)
		}
		return
	}
	p.mu.Lock()
	f := p.runs[key]
	if f != nil && ev.Kind == engine.StepFinished {
		delete(p.runs, key)
	}
	p.mu.Unlock()
	if f == nil {
		return
	}
	f.mu.Lock()
	switch ev.Kind {
	case engine.InstanceDone:
		f.ended++
		switch ev.Outcome {
		case engine.OutcomeDoneBefore:
			f.before++
		case engine.OutcomeFailed, engine.OutcomeNotReverted:
			f.failed++
		}
	case engine.Throttled:
		f.throttled++
	case engine.StepFinished:
		f.finished, f.end = true, ev.Time
		if f.end.IsZero() {
			f.end = p.now()
		}
	}
	early := f.finished && f.ended < f.total
	f.mu.Unlock()
	switch {
	case f.bar != nil && ev.Kind == engine.InstanceDone:
		f.bar.Increment()
	case f.bar != nil && early:
		f.bar.Abort(false) // stopped early: keep its line as it is
	case f.bar == nil && ev.Kind == engine.StepFinished:
		line := f.line(p.now())
		p.mu.Lock()
		fmt.Fprintf(p.w, "  [progress] %s\n", line)
		p.mu.Unlock()
	}
}

// start begins showing a fan-out.
func (p *progress) start(key string, ev engine.Event) {
	f := &fanOut{step: ev.Step, phase: ev.Phase, total: ev.Total, start: ev.Time}
	if f.start.IsZero() {
		f.start = p.now()
	}
	if p.bars != nil {
		name := ev.Step
		if ev.Phase == "rollback" {
			name = "rollback"
		}
		f.bar = p.bars.AddBar(int64(ev.Total), mpb.BarWidth(30),
			mpb.PrependDecorators(decor.Name(name+" ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncWidth)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return f.lockedTail(p.now()) })),
		)
	}
	p.mu.Lock()
	p.runs[key] = f
	p.mu.Unlock()
}

// stop ends the display: the bars are drawn one last time and the ticker
// stops.
func (p *progress) stop() {
	if p.bars != nil {
		p.mu.Lock()
		var left []*mpb.Bar
		for _, f := range p.runs {
			left = append(left, f.bar)
		}
		p.mu.Unlock()
		for _, b := range left {
			b.Abort(false)
		}
		p.bars.Wait()
		return
	}
	p.ticker.Stop()
	close(p.done)
	p.wg.Wait()
}
