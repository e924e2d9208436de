package snapshot

import (
	"bytes"
	"reflect"
	"testing"
)

// What Write writes, Read reads back whole, empty arrays included.
func TestWriteReadRoundTrip(t *testing.T) {
	for _, s := range []*Snapshot{sample(), {Format: Format, Users: []User{}, Recipients: []Recipient{}, AD: AD{Users: []ADUser{}}}} {
		var b bytes.Buffer
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
		got, err := Read(&b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("got %+v\nwant %+v", got, s)
		}
	}
}
