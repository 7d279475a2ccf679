// Package image tests the manager image that `make image` builds with ko: a valid image whose
// config and file system are what the Dockerfile, the chart and the bundle expect, and whose
// binary runs against a real API server and the in-memory Devin API. The tests are in the
// external test package (main_test.go says how the image is built or found).
package image
