// Package fooddelivery is the food-delivery system that projector's reference
// example (config/testdata/views-example.yaml) describes: four service
// databases — orders, consumers, restaurants and deliveries — each owning its
// tables, with no foreign keys between them.
//
// The demo, the end-to-end tests and the benchmarks use it to create the
// schema ([Setup]), fill it with realistic-looking data ([Load]) and then keep
// changing it the way real services would while projector follows along
// ([Workload]): inserts, updates and deletes on every table, renames of rows
// that many documents embed, line items moving between orders, referenced rows
// disappearing, and multi-statement transactions. Everything is driven by a
// seed, so a run can be reproduced.
package fooddelivery
