#!/usr/bin/env python3
"""Example searches on the demo's order_history view, printed with the curl
command that runs each one, so they can be tried by hand."""
import json
import sys
import urllib.request

SEARCH = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9200"


def search(query):
    req = urllib.request.Request(SEARCH + "/order_history/_search", data=json.dumps(query).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.load(res)


def show(title, query):
    print()
    print("# " + title)
    print("curl -s -H 'Content-Type: application/json' %s/order_history/_search -d '%s'" % (SEARCH, json.dumps(query)))
    return search(query)


def name(obj):
    return (obj or {}).get("name")


def describe(hit):
    doc = hit["_source"]
    items = ", ".join(str(name(i.get("menu_item"))) for i in doc.get("line_items") or [])
    delivery = doc.get("delivery") or {}
    return "  #%s %-10s %8.2f  %s @ %s  [%s]  delivery: %s %s" % (
        doc["id"], doc["status"], doc["total_cents"] / 100, name(doc.get("consumer")), name(doc.get("restaurant")),
        items, delivery.get("status"), delivery.get("courier_name") or "")


r = show("orders per status", {"size": 0, "aggs": {"status": {"terms": {"field": "status.keyword"}}}})
for b in r["aggregations"]["status"]["buckets"]:
    print("  %-11s %d" % (b["key"], b["doc_count"]))

# The workload deletes restaurants: pick a consumer among orders that still name theirs.
top = search({"size": 0, "query": {"exists": {"field": "restaurant.name"}},
              "aggs": {"c": {"terms": {"field": "consumer_id", "size": 1}}}})
consumer = top["aggregations"]["c"]["buckets"][0]["key"]
fav = search({"size": 0, "query": {"term": {"consumer_id": consumer}},
              "aggs": {"r": {"terms": {"field": "restaurant.name.keyword", "size": 1}}}})
restaurant = fav["aggregations"]["r"]["buckets"][0]["key"]

r = show("consumer %s's order history at \"%s\", without cancelled orders, newest first" % (consumer, restaurant),
         {"size": 5, "sort": [{"created_at": "desc"}],
          "query": {"bool": {"filter": [{"term": {"consumer_id": consumer}},
                                        {"match_phrase": {"restaurant.name": restaurant}}],
                             "must_not": [{"term": {"status.keyword": "cancelled"}}]}}})
print("  %d orders" % r["hits"]["total"]["value"])
for h in r["hits"]["hits"]:
    print(describe(h))

r = show("full text over menu item names: delivered orders with a pizza",
         {"size": 3, "query": {"bool": {
             "must": [{"nested": {"path": "line_items", "query": {"match": {"line_items.menu_item.name": "pizza"}}}}],
             "filter": [{"term": {"delivery.status.keyword": "delivered"}}]}}})
print("  %d orders" % r["hits"]["total"]["value"])
for h in r["hits"]["hits"]:
    print(describe(h))
