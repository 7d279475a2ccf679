// Package alerts tests the monitoring kit of the Helm chart with Prometheus' own libraries:
// the PrometheusRule renders to valid rule groups, each alert fires (and stays quiet) at the
// expected times over given series, the way `promtool test rules` checks them, and every
// metric the alerts and the Grafana dashboard query is one the operator exports, with the
// labels they match on.
package alerts
