package config

import (
	"errors"
	"sync"

	"github.com/wsgiproxy/wsgiproxy-go/sign/redisnonce"
)

// nonceStores are the Redis nonce stores of a Runtime's routes, one per
// setting, shared by the routes with that setting and kept across
// reloads (a nonce accepted before a reload stays seen after it). Close
// closes them.
type nonceStores struct {
	mu     sync.Mutex
	stores map[redisnonce.Config]*redisnonce.Store
}

// get returns the store for cfg, made on first use.
func (n *nonceStores) get(cfg redisnonce.Config) (*redisnonce.Store, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.stores[cfg]; ok {
		return s, nil
	}
	s, err := redisnonce.New(cfg)
	if err != nil {
		return nil, err
	}
	if n.stores == nil {
		n.stores = map[redisnonce.Config]*redisnonce.Store{}
	}
	n.stores[cfg] = s
	return s, nil
}

func (n *nonceStores) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for cfg, s := range n.stores {
		errs = append(errs, s.Close())
		delete(n.stores, cfg)
	}
	return errors.Join(errs...)
}
