package adsync

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/steps"
)

// TestCommandDriverRefusesOtherAnswers: a status_command that prints
// neither True nor False is a permanent error that says what it printed.
func TestCommandDriverRefusesOtherAnswers(t *testing.T) {
	d := &CommandDriver{Command: []string{"true"}, Status: []string{"echo", "maybe"}, Poll: time.Millisecond}
	_, err := d.Run(context.Background(), "Delta", true, io.Discard)
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), `status_command printed "maybe"; it must print True or False`) {
		t.Fatalf("Run error = %v; want a permanent error naming what status_command printed", err)
	}
}

// TestCommandDriverWaitEndsWithContext: the wait between two questions
// ends with the context, and the error says which cycle it waited for.
func TestCommandDriverWaitEndsWithContext(t *testing.T) {
	d := &CommandDriver{Command: []string{"true"}, Status: []string{"echo", "True"}, Poll: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.Run(ctx, "Initial", true, io.Discard)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for the Initial cycle") {
		t.Fatalf("Run error = %v; want the context's end while waiting for the Initial cycle", err)
	}
}
