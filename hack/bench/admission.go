// Admission cost per webhook, as the API server measures it: how many times a create calls
// each webhook, and how long each call takes (apiserver_admission_webhook_admission_duration_seconds,
// which includes the network and the webhook's own time, by webhook name), beside the
// manager's own measure of its handlers (controller_runtime_webhook_latency_seconds, by path).

package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

const (
	apiserverWebhookSeconds = "apiserver_admission_webhook_admission_duration_seconds"
	managerWebhookSeconds   = "controller_runtime_webhook_latency_seconds"
)

// webhookCost is the calls and seconds of one webhook over a series.
type webhookCost struct {
	calls, seconds float64
}

// admissionCosts maps a webhook (the API server's name, or the manager's path) to its cost.
type admissionCosts map[string]webhookCost

// admissionSnapshot is the running totals of both histograms.
type admissionSnapshot struct {
	apiserver, manager admissionCosts
}

// costs sums a histogram's _count and _sum by the label that names the webhook.
func costs(samples []Sample, family, label string) admissionCosts {
	out := admissionCosts{}
	for _, s := range samples {
		name := s.Labels[label]
		c := out[name]
		switch s.Name {
		case family + "_count":
			c.calls += s.Value
		case family + "_sum":
			c.seconds += s.Value
		default:
			continue
		}
		out[name] = c
	}
	return out
}

// sub is a - b, webhook by webhook, dropping those not called.
func (a admissionCosts) sub(b admissionCosts) admissionCosts {
	out := admissionCosts{}
	for k, v := range a {
		if d := (webhookCost{v.calls - b[k].calls, v.seconds - b[k].seconds}); d.calls > 0 {
			out[k] = d
		}
	}
	return out
}

// perCreate lists each webhook's calls per create and mean duration, for n creates.
func (a admissionCosts) perCreate(n int) string {
	if len(a) == 0 || n == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		v := a[k]
		parts = append(parts, fmt.Sprintf("`%s` %.2f × %s", k, v.calls/float64(n), secs(time.Duration(v.seconds/v.calls*float64(time.Second)))))
	}
	return strings.Join(parts, ", ")
}

// admissionState scrapes both histograms.
func (c *cluster) admissionState(ctx context.Context) (admissionSnapshot, error) {
	api, err := scrape(ctx, c.apiHTTP, strings.TrimSuffix(c.env.Config.Host, "/")+"/metrics",
		named(apiserverWebhookSeconds+"_count", apiserverWebhookSeconds+"_sum"))
	if err != nil {
		return admissionSnapshot{}, fmt.Errorf("scrape kube-apiserver admission metrics: %w", err)
	}
	mgr, err := c.scrapeOperator(ctx, managerWebhookSeconds+"_count", managerWebhookSeconds+"_sum")
	if err != nil {
		return admissionSnapshot{}, err
	}
	return admissionSnapshot{
		apiserver: costs(api, apiserverWebhookSeconds, "name"),
		manager:   costs(mgr, managerWebhookSeconds, "webhook"),
	}, nil
}

// to is what happened between two snapshots.
func (s admissionSnapshot) to(after admissionSnapshot) admissionSnapshot {
	return admissionSnapshot{apiserver: after.apiserver.sub(s.apiserver), manager: after.manager.sub(s.manager)}
}
