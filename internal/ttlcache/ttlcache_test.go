package ttlcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestCacheExpiresAndBounds(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	c := New[int](time.Minute, 2, clk)
	c.Set("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %v, %v", v, ok)
	}
	clk.Step(time.Minute)
	if _, ok := c.Get("a"); ok {
		t.Fatal("entry outlived its TTL")
	}
	c.Set("b", 2)
	c.Set("c", 3)
	c.Set("d", 4)
	if c.Len() > 2 {
		t.Fatalf("cache holds %d entries, bound is 2", c.Len())
	}
	if _, ok := c.Get("d"); !ok {
		t.Fatal("newest entry evicted")
	}
	c.Delete("d")
	if _, ok := c.Get("d"); ok {
		t.Fatal("deleted entry still there")
	}
}

func TestGetOrFetchCollapsesAndDoesNotCacheErrors(t *testing.T) {
	c := New[string](time.Minute, 10, nil)
	var calls atomic.Int32
	started := make(chan struct{})
	release := make(chan struct{})
	fetch := func(context.Context) (string, error) {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-release
		return "v", nil
	}
	var wg sync.WaitGroup
	get := func() {
		defer wg.Done()
		if v, err := c.GetOrFetch(context.Background(), "k", fetch); err != nil || v != "v" {
			t.Errorf("GetOrFetch = %q, %v", v, err)
		}
	}
	wg.Add(1)
	go get()
	<-started // the first fetch is in flight: the others join it
	for range 4 {
		wg.Add(1)
		go get()
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("%d fetches for one key, want 1", calls.Load())
	}
	before := calls.Load()
	if _, err := c.GetOrFetch(context.Background(), "k", fetch); err != nil || calls.Load() != before {
		t.Fatal("cached value not used")
	}
	boom := errors.New("boom")
	if _, err := c.GetOrFetch(context.Background(), "e", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := c.Get("e"); ok {
		t.Fatal("an error was cached")
	}
}
