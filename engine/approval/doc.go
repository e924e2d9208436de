// Package approval decides whether a saved plan may be applied, from what
// the applier can trust rather than from what the plan's JSON says of
// itself.
//
// A plan file is data from its author. Its digest proves only that the
// bytes are the ones reviewers signed, so everything that decides how many
// signatures are needed is recomputed: the approval counts from the
// runbook sources the plan carries (which must hash to the plan's runbook
// digest), each step's kind, reversibility and repeat-safety from the step
// type's own declaration in this build of rebind, and the floors of the
// applier's own Policy, which no plan can lower. A plan whose JSON
// disagrees with any of these is refused as altered, naming the field.
//
// Check does this before anything is observed. The engine then plans the
// same runbook again against the directories and hands both plans to
// Compare: every field a reviewer saw must come out the same, except the
// observations drift explains (which the engine reports as drift).
package approval
