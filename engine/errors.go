package engine

import "errors"

// Errors the CLI tells apart.
var (
	// ErrDrift is wrapped when objects changed since the plan was made.
	ErrDrift = errors.New("engine: objects changed since the plan was made")
	// ErrFailed is wrapped when a run ended in failure.
	ErrFailed = errors.New("engine: run failed")
	// ErrInDoubt is wrapped when a resume meets an action that was in doubt
	// and is not safe to repeat.
	ErrInDoubt = errors.New("engine: action in doubt")
)
