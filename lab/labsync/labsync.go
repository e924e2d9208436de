// Package labsync is the adsync driver "lab": it runs the sync cycles of a
// rehearsal lab, whose Entra Connect server the lab models itself (a
// command cannot reach it). Linking this package registers the driver; an
// environment binds to it with
//
//	target "adsync" "NAME" {
//	  driver  = "lab"
//	  url     = "https://127.0.0.1:PORT"   # the lab
//	  ca_file = "lab-ca.pem"               # the lab's CA
//	}
//
// as `rebind --lab` does. The product's adsync package knows only that a
// driver of that name was registered.
package labsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/adsync"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// Name is the driver's name in a target block.
const Name = "lab"

func init() {
	adsync.RegisterDriver(Name, open)
}

func open(ctx context.Context, cfg steps.TargetConfig) (adsync.Driver, error) {
	base, _ := steps.String(cfg.Config, "url")
	if u, err := url.Parse(base); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("url %q must be the lab's https:// address", base)
	}
	caFile, _ := steps.String(cfg.Config, "ca_file")
	hc, err := httpx.Client(caFile, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	return &Driver{Lab: control.New(base, hc)}, nil
}

// Driver runs cycles of a lab tenant through its control API.
type Driver struct {
	Lab *control.Lab
}

var (
	_ adsync.Driver    = (*Driver)(nil)
	_ adsync.Scheduler = (*Driver)(nil)
)

// Name returns "lab".
func (*Driver) Name() string { return Name }

// Run asks the lab for a cycle, which it answers once the cycle is over.
func (d *Driver) Run(ctx context.Context, policy string, wait bool, log io.Writer) (adsync.Cycle, error) {
	res, _, err := d.Lab.Sync(ctx, policy)
	if errors.Is(err, control.ErrSyncOff) {
		return adsync.Cycle{}, steps.Permanent(fmt.Errorf("adsync: %s cycle refused: directory synchronization is off for the tenant (or still turning off); turn it on with entra_dir_sync first", policy))
	}
	if err != nil {
		return adsync.Cycle{}, fmt.Errorf("adsync: lab cycle: %w", err)
	}
	c := adsync.Cycle{Policy: res.Policy, Status: res.Status, Started: res.Started, Finished: res.Started,
		Added: res.Added, Updated: res.Updated, Deleted: res.Deleted}
	for _, e := range res.Errors {
		c.Errors = append(c.Errors, adsync.CycleError{Code: e.Code, Object: e.DN, Detail: e.Detail})
	}
	return c, nil
}

// SchedulerEnabled reads the lab scheduler's setting.
func (d *Driver) SchedulerEnabled(ctx context.Context) (bool, error) {
	on, err := d.Lab.Scheduler(ctx)
	if err != nil {
		return false, fmt.Errorf("adsync: lab scheduler: %w", err)
	}
	return on, nil
}

// SetSchedulerEnabled turns the lab scheduler's cycles on or off.
func (d *Driver) SetSchedulerEnabled(ctx context.Context, on bool) error {
	if _, err := d.Lab.SetScheduler(ctx, on); err != nil {
		return fmt.Errorf("adsync: lab scheduler: %w", err)
	}
	return nil
}
