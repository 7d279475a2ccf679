package main

import "testing"

func TestAdmissionCostsPerWebhook(t *testing.T) {
	sample := func(name, hook string, v float64) Sample {
		return Sample{Name: name, Labels: map[string]string{"name": hook}, Value: v}
	}
	before := costs([]Sample{
		sample(apiserverWebhookSeconds+"_count", "madmission.iam.devin.ai", 10),
		sample(apiserverWebhookSeconds+"_sum", "madmission.iam.devin.ai", 0.1),
		sample(apiserverWebhookSeconds+"_count", "vpat.iam.devin.ai", 4),
		sample(apiserverWebhookSeconds+"_sum", "vpat.iam.devin.ai", 0.04),
	}, apiserverWebhookSeconds, "name")
	after := costs([]Sample{
		sample(apiserverWebhookSeconds+"_count", "madmission.iam.devin.ai", 30),
		sample(apiserverWebhookSeconds+"_sum", "madmission.iam.devin.ai", 0.3),
		sample(apiserverWebhookSeconds+"_bucket", "madmission.iam.devin.ai", 99),
		sample(apiserverWebhookSeconds+"_count", "vpat.iam.devin.ai", 4),
		sample(apiserverWebhookSeconds+"_sum", "vpat.iam.devin.ai", 0.04),
	}, apiserverWebhookSeconds, "name")
	got := after.sub(before).perCreate(10)
	if want := "`madmission.iam.devin.ai` 2.00 × 10.0 ms"; got != want {
		t.Errorf("perCreate = %q, want %q (a webhook not called in between is left out)", got, want)
	}
	if got := (admissionCosts{}).perCreate(10); got != "none" {
		t.Errorf("no calls: %q", got)
	}
}
