package journal

import (
	"reflect"
	"testing"
)

// The instances of a step in a module called with for_each are counted
// under their own step: the module's key comes before the instance's, so
// cutting the address at its first bracket, as runs show once did, would
// fold every module instance into one.
func TestSummaryModuleSteps(t *testing.T) {
	z := newSummarizer()
	z.add(`module.m["a"].step.file.f["x"]`, KindIntent)
	z.add(`module.m["a"].step.file.f["x"]`, KindOutcome)
	z.add(`module.m["a"].step.file.f["y"]`, KindIntent)
	z.add(`module.m["b"].step.file.f["x"]`, KindIntent)
	z.add(`module.m["b"].step.file.f["x"]`, KindFailure)
	z.add(`module.one.step.file.g`, KindIntent)
	got := z.result()
	want := []StepSummary{
		{Step: `module.m["a"].step.file.f`, Instances: 2, Done: 1, InDoubt: 1},
		{Step: `module.m["b"].step.file.f`, Instances: 1, Failed: 1},
		{Step: `module.one.step.file.g`, Instances: 1, InDoubt: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary:\n%+v\nwant:\n%+v", got, want)
	}
}
