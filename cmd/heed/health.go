package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// errUnhealthy marks a heed serve that did not answer its liveness check.
var errUnhealthy = errors.New("heed is not healthy")

// health asks the heed serve listening on --listen for /healthz, as a
// container's health check does: it succeeds only on 200 within --timeout.
// A wildcard listen address (0.0.0.0, ::) is asked on loopback.
func (m *Main) health(ctx context.Context, args []string) error {
	f := m.flags("health")
	listen := f.str("listen", "HEED_LISTEN", "127.0.0.1:8080", "the address heed serve listens on")
	timeout := f.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := f.parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w: %w", *listen, err, errUsage)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnhealthy, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %s: %q", errUnhealthy, url, resp.Status, body)
	}
	fmt.Fprintf(m.Stdout, "%s: %s\n", url, body)
	return nil
}
