// Package handover keeps what must outlive a Corefile reload, as CoreDNS's
// metrics plugin keeps its registry: one value per key, where the key is what
// makes the value's owner unique (a server block, a listen address). A
// reload builds a new instance before the old one stops, so the new one
// takes the value over when it starts; the old one, stopping, drops the
// value only if no successor took it. Nothing is kept for a key that no
// instance serves.
package handover

import "sync"

// Registry holds one value per key and who holds it now.
type Registry[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]*entry[V]
}

type entry[V any] struct {
	value  V
	holder any
}

// Peek returns key's value without taking it: a new instance reads what
// its predecessor left before it starts.
func (r *Registry[K, V]) Peek(key K) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[key]; ok {
		return e.value, true
	}
	var zero V
	return zero, false
}

// Take makes holder the holder of key's value, creating the value with
// create when there is none, and returns it.
func (r *Registry[K, V]) Take(key K, holder any, create func() V) V {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[key]
	if !ok {
		if r.entries == nil {
			r.entries = make(map[K]*entry[V])
		}
		e = &entry[V]{value: create()}
		r.entries[key] = e
	}
	e.holder = holder
	return e.value
}

// Drop forgets key's value if holder still holds it: an instance that stops
// with no successor taking its place.
func (r *Registry[K, V]) Drop(key K, holder any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[key]; ok && e.holder == holder {
		delete(r.entries, key)
	}
}
