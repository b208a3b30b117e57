package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/client"
	"github.com/projector-dev/projector/internal/fooddelivery"
)

func newOrderCommand(dsns *dsnFlags) *cobra.Command {
	var admin, tokenFile, search, view string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "place-order",
		Short: "Place an order, wait until order_history has it, and find it with a search",
		Long: `place-order shows reading your own writes: it places an order on the orders
database, reads the commit position (client.CommitPosition), waits on it
through projector's admin API (client.Wait, GET /v1/wait) and then searches
order_history for the order, which it must find at once, although the index
refreshes on its own schedule.`,
		Example: "  projector-demo place-order --admin http://127.0.0.1:9466 --token-file .testbed/demo/admin.token",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			token, err := os.ReadFile(tokenFile)
			if err != nil {
				return fmt.Errorf("read the admin token: %w", err)
			}
			conn, err := pgx.Connect(ctx, dsns.dsns.DSN(fooddelivery.Orders))
			if err != nil {
				return fmt.Errorf("connect to the orders database: %w", err)
			}
			defer conn.Close(context.Background())
			var id int64
			if err := conn.QueryRow(ctx, `INSERT INTO orders (consumer_id, restaurant_id, total_cents, notes)
				VALUES (1, 1, 4200, 'placed by projector-demo place-order') RETURNING id`).Scan(&id); err != nil {
				return fmt.Errorf("place an order: %w", err)
			}
			committed := time.Now()
			lsn, err := client.CommitPosition(ctx, conn)
			if err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := client.New(admin, strings.TrimSpace(string(token))).Wait(wctx, view, "orders", lsn); err != nil {
				return fmt.Errorf("wait for order %d (%s) in %s: %w", id, lsn, view, err)
			}
			waited := time.Since(committed)
			found, err := searchOrder(ctx, search, view, id)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("order %d: the wait answered, but a search on %s does not find it", id, view)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "placed order %d at %s; %s had it %s after the commit, and a search finds it\n",
				id, lsn, view, waited.Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&admin, "admin", "http://127.0.0.1:9466", "projector's admin API")
	f.StringVar(&tokenFile, "token-file", ".testbed/demo/admin.token", "file holding the admin (or wait) token")
	f.StringVar(&search, "search", "http://127.0.0.1:9200", "search engine URL")
	f.StringVar(&view, "view", "order_history", "view to wait on and search")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait")
	return cmd
}

// searchOrder searches view for the order with id.
func searchOrder(ctx context.Context, search, view string, id int64) (bool, error) {
	body := fmt.Sprintf(`{"query":{"ids":{"values":["%d"]}}}`, id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(search, "/")+"/"+view+"/_search", strings.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("search %s: %w", view, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return false, fmt.Errorf("search %s: %w", view, err)
	}
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("search %s: %s %s", view, res.Status, data)
	}
	var out struct {
		Hits struct {
			Hits []json.RawMessage `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return false, fmt.Errorf("search %s: %w", view, err)
	}
	return len(out.Hits.Hits) == 1, nil
}
