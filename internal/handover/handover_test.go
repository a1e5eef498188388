package handover

import "testing"

// A reload: the new instance peeks at its predecessor's value, takes it over
// when it starts, and the old one stopping leaves it be; an instance that
// stops with no successor drops it.
func TestHandover(t *testing.T) {
	var r Registry[string, *int]
	created := 0
	create := func() *int { created++; n := created; return &n }
	old, next := new(struct{ int }), new(struct{ int })

	if _, ok := r.Peek("a"); ok {
		t.Fatal("a value before anyone took one")
	}
	v := r.Take("a", old, create)
	if p, ok := r.Peek("a"); !ok || p != v {
		t.Fatal("Peek does not see the value taken")
	}
	if w := r.Take("a", next, create); w != v || created != 1 {
		t.Fatalf("the successor got a new value (%d created)", created)
	}
	r.Drop("a", old) // the old instance stops: its successor holds the value
	if _, ok := r.Peek("a"); !ok {
		t.Fatal("the old instance's stop dropped its successor's value")
	}
	r.Drop("a", next) // the last instance stops
	if _, ok := r.Peek("a"); ok {
		t.Fatal("a value nobody serves is kept")
	}
	// Keys are apart: taking b leaves a alone.
	r.Take("a", old, create)
	r.Take("b", next, create)
	r.Drop("a", next)
	_, a := r.Peek("a")
	_, b := r.Peek("b")
	if !a || !b {
		t.Fatalf("a kept %t, b kept %t; want both", a, b)
	}
}
