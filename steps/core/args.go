package core

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// intArg returns a number attribute that must be a whole number.
func intArg(cfg cty.Value, name string) (int, bool, error) {
	v, ok := steps.Attr(cfg, name)
	if !ok {
		return 0, false, nil
	}
	v, _ = v.UnmarkDeep()
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i != int64(int(i)) {
		return 0, true, fmt.Errorf("%q must be a whole number, got %s", name, bf.Text('g', -1))
	}
	return int(i), true, nil
}

// resolvePath makes p absolute: relative paths are resolved against the
// run's directory, as every path in a runbook is.
func resolvePath(call steps.Call, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%q must not be empty", "path")
	}
	if !filepath.IsAbs(p) && call.Run != nil && call.Run.Dir() != "" {
		p = filepath.Join(call.Run.Dir(), p)
	}
	return filepath.Abs(p)
}

// parseMode parses an octal permission string such as "0644" or "600".
// Only permission bits are accepted: rebind does not set setuid, setgid or
// sticky bits on the files it writes.
func parseMode(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || s == "" {
		return 0, fmt.Errorf("%q must be an octal permission such as \"0644\", got %q", "mode", s)
	}
	if n > 0o777 {
		return 0, fmt.Errorf("%q must be at most \"0777\", got %q", "mode", s)
	}
	return os.FileMode(n), nil
}

// formatMode is the inverse of parseMode: always four octal digits.
func formatMode(m os.FileMode) string {
	return fmt.Sprintf("%04o", uint32(m.Perm()))
}

// parseDuration reads a duration argument with the runbook language's one
// grammar (steps.ParseDuration: Go durations plus "d" for days, such as
// "90s", "1h30m", "1d12h" or "1.5d"), naming the argument in the error.
func parseDuration(name, s string) (time.Duration, error) {
	d, err := steps.ParseDuration(s)
	var de *steps.DurationError
	if errors.As(err, &de) && de.Negative {
		return 0, fmt.Errorf("%q: duration %q must not be negative", name, s)
	}
	if err != nil {
		return 0, fmt.Errorf("%q: bad duration %q: use a number and a unit, such as \"30s\", \"2m\", \"1h\" or \"1d\"", name, s)
	}
	return d, nil
}

// observeNothing is the Observe of a step type with no state to read
// (exec, wait): it checks the call's arguments with decode and observes
// the object "TYPE:ADDRESS" with an empty value.
func observeNothing[A any](call steps.Call, typ string, decode func(steps.Call) (A, error)) (steps.Observation, error) {
	if _, err := decode(call); err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: typ + ":" + call.Address, Value: cty.EmptyObjectVal}, nil
}

// sleep waits for d or until ctx ends, returning ctx's error in that case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logf writes a progress line to the call's log, if it has one.
func logf(call steps.Call, format string, args ...any) {
	if call.Log == nil {
		return
	}
	fmt.Fprintf(call.Log, format+"\n", args...)
}
