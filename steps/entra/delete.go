package entra

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func init() { steps.Register(deleteStep{}) }

// deleteStep is the entra_user_deleted type, the inverse of
// entra_user_restored.
type deleteStep struct{}

func (deleteStep) Info() steps.Info {
	return steps.Info{
		Name: "entra_user_deleted",
		Doc: "Ensures a cloud user is in the recycle bin: deletes it (DELETE /users/{id}, which moves it to the " +
			"recycle bin for 30 days, learn.microsoft.com/graph/api/user-delete) when it is active, and does nothing " +
			"when it is deleted already. Name it by id to be sure which user goes. `self.observed` is what entra_user " +
			"reads. Rollback restores it from the recycle bin.",
		Kind:               steps.KindEnsure,
		Target:             "entra",
		Schema:             selectorSchema(steps.Schema{}),
		Reversibility:      steps.Compensable,
		IrreversibleReason: "Rollback restores the user from the recycle bin: it comes back with its licenses, but if it has been purged meanwhile it cannot.",
		// user-delete: User.DeleteRestore.All is the least privileged
		// application permission (reading the user first is User.Read.All).
		Permissions: []string{permUserRead, "Graph: User.DeleteRestore.All"},
	}
}

func (deleteStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return userData{}.Observe(ctx, withDeleted(call))
}

func (deleteStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	return deletedChange(obs, true)
}

func (deleteStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{}, nil
	}
	c, p, err := restoreCall(call, change)
	if err != nil {
		return steps.Result{}, err
	}
	if err := c.deleteUser(ctx, p.ID); err != nil && !isStatus(err, 404) {
		return steps.Result{}, wrap(err, "delete user "+p.ID)
	}
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(p.ID)})}, nil
}

// Revert restores the deleted user.
func (deleteStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	if change.Action == steps.NoOp {
		return nil
	}
	c, p, err := restoreCall(call, change)
	if err != nil {
		return err
	}
	if _, err := c.restoreUser(ctx, p.ID, false, ""); err != nil {
		if _, aerr := c.activeUser(ctx, selector{ID: p.ID}); aerr == nil {
			return nil // restored already
		}
		if isStatus(err, 404) {
			// Neither active nor in the recycle bin: purged (or past its 30
			// days), so there is nothing left to restore.
			return fmt.Errorf("entra: user %s is no longer in the recycle bin (purged, or past its 30 days) and cannot be restored: %w", p.ID, steps.ErrIrreversible)
		}
		return restoreError(err, p.ID)
	}
	return nil
}
