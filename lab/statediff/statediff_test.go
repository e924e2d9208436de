package statediff

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	before := `{"ad":[{"objectGUID":"g1","userPrincipalName":"a@x","mail":"a@x","uSNChanged":1}],
	  "users":[{"id":"u1","userPrincipalName":"a@x","onPremisesImmutableId":"old","deletedDateTime":"2026-01-01T00:00:00Z"},
	           {"id":"u2","userPrincipalName":"b@x"}],
	  "recipients":[{"ExchangeObjectId":"r1","UserPrincipalName":"c@x","LitigationHoldEnabled":true}],
	  "organization":{"onPremisesSyncEnabled":true}}`
	after := `{"ad":[{"objectGUID":"g1","userPrincipalName":"a@x","mail":"a@x","uSNChanged":9}],
	  "users":[{"id":"u1","userPrincipalName":"a@x","onPremisesImmutableId":"new"},
	           {"id":"u2","userPrincipalName":"b@x"},{"id":"u3","userPrincipalName":"d@x"}],
	  "recipients":[],
	  "organization":{"onPremisesSyncEnabled":true}}`
	got, err := Diff([]byte(before), []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Directory: "Entra ID", Object: "a@x", Kind: "changed", Attributes: []string{
			`deletedDateTime: "2026-01-01T00:00:00Z" -> (none)`, `onPremisesImmutableId: "old" -> "new"`}},
		{Directory: "Entra ID", Object: "d@x", Kind: "added"},
		{Directory: "Exchange Online", Object: "c@x", Kind: "removed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff =\n%#v\nwant\n%#v", got, want)
	}
	if _, err := Diff([]byte("{"), []byte("{}")); err == nil {
		t.Fatal("Diff of invalid JSON did not fail")
	}
}
