package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/client"
)

// An application places an order and then shows it in the order history,
// which a search on the order_history view serves.
func Example() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("ORDERS_DSN"))
	if err != nil {
		panic(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO orders (consumer_id, status) VALUES (42, 'placed')"); err != nil {
		panic(err)
	}
	// After the commit (here: autocommit), on the same server.
	lsn, err := client.CommitPosition(ctx, conn)
	if err != nil {
		panic(err)
	}
	projector := client.New("http://127.0.0.1:9466", os.Getenv("PROJECTOR_WAIT_TOKEN"))
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	switch err := projector.Wait(wctx, "order_history", "orders", lsn); {
	case errors.Is(err, client.ErrTimeout):
		fmt.Println("the order history may not show the new order yet")
	case err != nil:
		panic(err)
	}
	// Search order_history: the new order is there.
}
