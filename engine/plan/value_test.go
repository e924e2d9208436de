package plan

import (
	"math"
	"math/big"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestEncodeValueOutOfRange checks that a number JSON cannot hold is
// encoded as a note, not a panic: the engine refuses such numbers where
// they enter, and this is the last line if one gets through.
func TestEncodeValueOutOfRange(t *testing.T) {
	huge, _, err := big.ParseFloat("1e99999999", 10, 512, big.ToNearestEven)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []cty.Value{
		cty.NumberFloatVal(math.Inf(1)),
		cty.NumberFloatVal(math.Inf(-1)),
		cty.NumberVal(huge),
		cty.ObjectVal(map[string]cty.Value{"n": cty.NumberFloatVal(math.Inf(1))}),
	} {
		got := EncodeValue(v).String()
		if got != `"(number out of range)"` && got != `{"n":"(number out of range)"}` {
			t.Errorf("EncodeValue(%#v) = %s", v, got)
		}
	}
	if got := EncodeValue(cty.NumberFloatVal(1.5e308)).String(); got[0] != '1' {
		t.Errorf("a number in range: %s", got)
	}
}
