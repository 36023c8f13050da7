package scheduler_test

import (
	"context"
	"log"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/scheduler"
)

// A scheduler that declines every offer and acknowledges every update.
func Example() {
	client, err := scheduler.New(scheduler.Config{
		Masters: []string{"localhost:5050"},
		Framework: &mesos.FrameworkInfo{
			User:            proto.String("nobody"),
			Name:            proto.String("example"),
			FailoverTimeout: proto.Float64((7 * 24 * time.Hour).Seconds()),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
		switch ev.GetType() {
		case schedpb.Event_SUBSCRIBED:
			log.Printf("subscribed as %s", ev.GetSubscribed().GetFrameworkId().GetValue())
		case schedpb.Event_OFFERS:
			var ids []*mesos.OfferID
			for _, o := range ev.GetOffers().GetOffers() {
				ids = append(ids, o.GetId())
			}
			return client.Decline(ctx, ids, time.Minute)
		case schedpb.Event_UPDATE:
			return client.Acknowledge(ctx, ev.GetUpdate().GetStatus())
		}
		return nil
	})
	log.Print(err)
}
