package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/steps"
)

// The JSON payloads of journal records. They hold no secrets: sensitive
// arguments are nulled before they are written.

// changeData is a steps.Change as the journal keeps it.
type changeData struct {
	Action string `json:"action"`
	// BeforeRedacted is set when the before-value held a secret, which the
	// journal does not keep: such a change cannot be reverted.
	BeforeRedacted bool        `json:"before_redacted,omitempty"`
	Before         *typedValue `json:"before,omitempty"`
	After          *typedValue `json:"after,omitempty"`
	Private        []byte      `json:"private,omitempty"`
}

// intentData is written, durably, before a write leaves the process.
type intentData struct {
	Key    string      `json:"key,omitempty"`
	Object string      `json:"object,omitempty"`
	Config *typedValue `json:"config,omitempty"`
	Change changeData  `json:"change"`
	Await  bool        `json:"await,omitempty"`
}

// outcomeData is written when an instance is done (applied, already so,
// or awaited).
type outcomeData struct {
	Key      string      `json:"key,omitempty"`
	Object   string      `json:"object,omitempty"`
	Action   string      `json:"action"`
	Config   *typedValue `json:"config,omitempty"`
	Change   *changeData `json:"change,omitempty"`
	Observed *typedValue `json:"observed,omitempty"`
	Result   *typedValue `json:"result,omitempty"`
}

// FailureData is the Data of a journal.KindFailure record, and of the
// journal.KindNote record of a failed postcondition, when a runbook
// expression failed: the diagnostics whose text the record's Error holds.
// Records written before it was kept have no Data, and read the same.
type FailureData struct {
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
}

// failureData is the Data a failure record keeps for diags; nil for none.
func failureData(diags []Diagnostic) []byte {
	if len(diags) == 0 {
		return nil
	}
	return mustJSON(FailureData{Diagnostics: diags})
}

// Decision records how an in-doubt instance was settled, by the engine or
// by a person: the Data of a journal.KindDecision record.
type Decision struct {
	Decision string `json:"decision"` // already-so, applied-again, marked-done, rerun
	By       string `json:"by,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// stored is v as the journal may keep it: strings holding a known secret
// replaced, and every value marked sensitive (what reflects a secret
// argument, such as an old password observed before a rotation) nulled.
// It reports whether anything was left out.
func stored(v cty.Value, secrets []string) (cty.Value, bool) {
	v, scrubbed := scrub(v, secrets)
	v, stripped := stripSensitive(v)
	return v, scrubbed || stripped
}

func encodeChange(c steps.Change, secrets []string) (changeData, error) {
	before, hid := stored(c.Before, secrets)
	after, _ := stored(c.After, secrets)
	for _, sec := range secrets {
		if len(sec) >= minSecretLen && bytes.Contains(c.Private, []byte(sec)) {
			// Step data that names a secret (a path built from one) is
			// not kept; the step finds its object from its arguments,
			// given again, instead.
			c.Private = nil
			break
		}
	}
	b, err := encodeTyped(before)
	if err != nil {
		return changeData{}, fmt.Errorf("before-value: %w", err)
	}
	a, err := encodeTyped(after)
	if err != nil {
		return changeData{}, fmt.Errorf("after-value: %w", err)
	}
	return changeData{Action: string(c.Action), Before: b, After: a, Private: c.Private, BeforeRedacted: hid}, nil
}

func decodeChange(c *changeData) (steps.Change, error) {
	if c == nil {
		return steps.Change{}, nil
	}
	b, err := decodeTyped(c.Before)
	if err != nil {
		return steps.Change{}, err
	}
	a, err := decodeTyped(c.After)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Action: steps.Action(c.Action), Before: b, After: a, Private: c.Private}, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("engine: encode journal payload: %v", err))
	}
	return b
}

// instState is what the journal says of one instance.
//
// A run of 100,000 instances has as many intents and outcomes: fold keeps
// their JSON as read and decodes an intent only when its instance is in
// doubt, and an outcome only when the engine asks for it (outcome), so
// that a resume finds where the run stopped without decoding every record
// (BenchmarkResumePoint100k).
type instState struct {
	intent     *intentData
	intentRaw  []byte
	intentSeq  int64
	hasIntent  bool
	outcomeRaw []byte
	hasOutcome bool
	outcomeSeq int64
	outcomeDec *outcomeData
	failed     bool
	failure    string
	reverted   bool
	decision   string
	// rp is the replay it belongs to, which reads a payload that was
	// not read with the records (readJournal).
	rp *replay
}

// inDoubt reports an intent with neither outcome nor failure.
func (st *instState) inDoubt() bool {
	return st != nil && st.hasIntent && !st.hasOutcome && !st.failed
}

// done reports an instance the run completed: it has an outcome.
func (st *instState) done() bool { return st != nil && st.hasOutcome }

// outcome decodes the instance's outcome (nil when it has none). An
// instance belongs to one goroutine of a run at a time, so no lock.
func (st *instState) outcome() (*outcomeData, error) {
	if !st.done() {
		return nil, nil
	}
	if st.outcomeDec == nil {
		if st.outcomeRaw == nil && st.rp.load != nil {
			if err := st.rp.prefetch([]*instState{st}); err != nil {
				return nil, err
			}
		}
		var d outcomeData
		if err := json.Unmarshal(st.outcomeRaw, &d); err != nil {
			return nil, fmt.Errorf("engine: journal record %d: %w", st.outcomeSeq, err)
		}
		st.outcomeDec = &d
	}
	return st.outcomeDec, nil
}

// replay is the journal of a run, folded by instance address.
type replay struct {
	inst  map[string]*instState
	order []string // addresses by first appearance
	// load reads the payloads of records by Seq (journal.RecordData):
	// set when the records were read without them (readJournal).
	load func(seqs []int64) (map[int64][]byte, error)
}

// readJournal reads a run's journal as resume needs it: every record's
// kind and step (journal.Heads), and the payloads of the intents left in
// doubt; an outcome's payload is read when the engine asks for it, or for
// a whole step at once (prefetch). Where a run of 100,000 instances
// stopped is then found without reading 200,000 payloads
// (BenchmarkResumePoint100k).
func readJournal(ctx context.Context, j journal.Journal, runID string) (*replay, error) {
	heads, err := j.Heads(ctx, runID)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx) // a payload read as the run stops still counts
	r := newReplay()
	r.load = func(seqs []int64) (map[int64][]byte, error) { return j.RecordData(ctx, runID, seqs) }
	if err := r.fold(heads); err != nil {
		return nil, err
	}
	return r, nil
}

// prefetch reads the outcomes of sts that were not read yet, in one go.
func (r *replay) prefetch(sts []*instState) error {
	var seqs []int64
	for _, st := range sts {
		if st.done() && st.outcomeRaw == nil {
			seqs = append(seqs, st.outcomeSeq)
		}
	}
	if len(seqs) == 0 || r.load == nil {
		return nil
	}
	data, err := r.load(seqs)
	if err != nil {
		return fmt.Errorf("engine: read the journal: %w", err)
	}
	for _, st := range sts {
		if st.done() && st.outcomeRaw == nil {
			raw, ok := data[st.outcomeSeq]
			if !ok || raw == nil {
				return fmt.Errorf("engine: journal record %d: its payload is missing", st.outcomeSeq)
			}
			st.outcomeRaw = raw
		}
	}
	return nil
}

func newReplay() *replay { return &replay{inst: map[string]*instState{}} }

func (r *replay) get(addr string) *instState {
	st := r.inst[addr]
	if st == nil {
		st = &instState{rp: r}
		r.inst[addr] = st
		r.order = append(r.order, addr)
	}
	return st
}

// fold reads a run's records. It decodes the intents of the instances left
// in doubt, and no outcome (see instState).
func fold(recs []journal.Record) (*replay, error) {
	r := newReplay()
	if err := r.fold(recs); err != nil {
		return nil, err
	}
	return r, nil
}

// fold adds recs to r. Payloads missing from recs (journal.Heads) are read
// with r.load: an in-doubt intent's here, an outcome's when asked for.
func (r *replay) fold(recs []journal.Record) error {
	for _, rec := range recs {
		if rec.Step == "" {
			continue
		}
		switch rec.Kind {
		case journal.KindIntent:
			st := r.get(rec.Step)
			st.intentRaw, st.hasIntent = rec.Data, true
			st.outcomeRaw, st.hasOutcome, st.outcomeDec, st.failed, st.failure = nil, false, nil, false, ""
			st.intentSeq = rec.Seq
		case journal.KindOutcome:
			st := r.get(rec.Step)
			st.outcomeRaw, st.hasOutcome, st.outcomeDec = rec.Data, true, nil
			st.outcomeSeq, st.failed, st.reverted = rec.Seq, false, false
		case journal.KindFailure:
			st := r.get(rec.Step)
			st.failed, st.failure = true, rec.Error
		case journal.KindRevertOutcome:
			r.get(rec.Step).reverted = true
		case journal.KindDecision:
			var d Decision
			_ = json.Unmarshal(rec.Data, &d)
			r.get(rec.Step).decision = d.Decision
		}
	}
	var doubt []*instState
	var missing []int64
	for _, addr := range r.order {
		if st := r.inst[addr]; st.inDoubt() {
			doubt = append(doubt, st)
			if st.intentRaw == nil {
				missing = append(missing, st.intentSeq)
			}
		}
	}
	if len(missing) > 0 && r.load != nil {
		data, err := r.load(missing)
		if err != nil {
			return fmt.Errorf("engine: read the journal: %w", err)
		}
		for _, st := range doubt {
			if st.intentRaw == nil {
				st.intentRaw = data[st.intentSeq]
			}
		}
	}
	for _, st := range doubt {
		var d intentData
		if err := json.Unmarshal(st.intentRaw, &d); err != nil {
			return fmt.Errorf("engine: journal record %d: %w", st.intentSeq, err)
		}
		st.intent = &d
	}
	return nil
}

// value rebuilds what a completed instance looks like to later steps.
func (o *outcomeData) value() (cty.Value, error) {
	obs, err := decodeTyped(o.Observed)
	if err != nil {
		return cty.NilVal, err
	}
	res, err := decodeTyped(o.Result)
	if err != nil {
		return cty.NilVal, err
	}
	return instanceValue(obs, res, o.Action), nil
}
