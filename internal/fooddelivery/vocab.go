package fooddelivery

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// cuisine is what one kind of restaurant is called and serves.
type cuisine struct {
	name   string
	first  []string // first half of a restaurant's name
	second []string // second half
	dishes []dish
}

type dish struct {
	name, description string
	cents             int64 // typical price
}

// cuisines returns the catalogue the generator draws restaurants and menus
// from. It is built per generator rather than held in a package variable.
func cuisines() []cuisine {
	return []cuisine{
		{"italian", []string{"Trattoria", "Osteria", "Pizzeria", "Ristorante", "Cucina"},
			[]string{"Roma", "Napoli", "Bella", "da Mario", "Toscana", "Luigi", "Venezia"}, []dish{
				{"Margherita Pizza", "San Marzano tomatoes, fior di latte, basil", 1150},
				{"Spaghetti Carbonara", "guanciale, egg yolk, pecorino romano", 1390},
				{"Lasagne al Forno", "slow-cooked ragù, béchamel, parmigiano", 1450},
				{"Tiramisù", "mascarpone, espresso, cocoa", 650},
				{"Risotto ai Funghi", "porcini, thyme, aged parmesan", 1520},
				{"Bruschetta", "grilled sourdough, tomato, garlic, olive oil", 590},
			}},
		{"thai", []string{"Bangkok", "Siam", "Chiang Mai", "Thai Orchid", "Lotus"},
			[]string{"Kitchen", "Garden", "Street Food", "House", "Express"}, []dish{
				{"Pad Thai", "rice noodles, tamarind, peanuts, bean sprouts", 1290},
				{"Green Curry", "coconut milk, Thai basil, bamboo shoots", 1350},
				{"Tom Yum Soup", "lemongrass, galangal, lime leaves, prawns", 990},
				{"Massaman Curry", "slow-cooked beef, potato, peanuts", 1490},
				{"Mango Sticky Rice", "sweet coconut rice, ripe mango", 690},
			}},
		{"japanese", []string{"Sakura", "Tokyo", "Kyoto", "Umami", "Koi"},
			[]string{"Sushi Bar", "Ramen House", "Izakaya", "Kitchen"}, []dish{
				{"Salmon Nigiri", "two pieces, hand-pressed rice", 690},
				{"Tonkotsu Ramen", "pork broth, chashu, soft egg, nori", 1450},
				{"Chicken Katsu Curry", "panko chicken, Japanese curry, rice", 1390},
				{"Edamame", "steamed soybeans, sea salt", 450},
				{"California Roll", "crab, avocado, cucumber, tobiko", 890},
			}},
		{"mexican", []string{"El", "La", "Casa", "Taqueria"},
			[]string{"Sol", "Cantina", "Jalisco", "Oaxaca", "Mariachi"}, []dish{
				{"Carnitas Tacos", "three corn tortillas, slow-cooked pork, salsa verde", 1190},
				{"Chicken Burrito", "rice, black beans, pico de gallo, crema", 1250},
				{"Guacamole & Chips", "avocado, lime, coriander, tortilla chips", 750},
				{"Quesadilla", "Oaxaca cheese, peppers, onions", 990},
				{"Churros", "cinnamon sugar, chocolate sauce", 590},
			}},
		{"indian", []string{"Spice", "Taj", "Bombay", "Delhi", "Masala"},
			[]string{"Palace", "Garden", "Kitchen", "Tandoor", "Junction"}, []dish{
				{"Chicken Tikka Masala", "tandoori chicken, creamy tomato sauce", 1490},
				{"Lamb Rogan Josh", "Kashmiri chilli, braised lamb", 1590},
				{"Palak Paneer", "spinach, cottage cheese, garam masala", 1190},
				{"Garlic Naan", "tandoor-baked flatbread, garlic butter", 350},
				{"Vegetable Samosas", "two pastries, potato, peas, tamarind chutney", 550},
			}},
		{"american", []string{"Big", "Liberty", "Route 66", "Smoky", "Brooklyn"},
			[]string{"Burger Co.", "Diner", "Grill", "BBQ", "Smokehouse"}, []dish{
				{"Classic Cheeseburger", "beef patty, cheddar, pickles, brioche bun", 1290},
				{"Pulled Pork Sandwich", "12-hour smoked shoulder, slaw", 1350},
				{"Buffalo Wings", "eight wings, blue cheese dip", 1050},
				{"Sweet Potato Fries", "chipotle mayo", 520},
				{"Chocolate Milkshake", "vanilla ice cream, cocoa", 590},
			}},
	}
}

func pick(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }

func firstName(r *rand.Rand) string {
	return pick(r, "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia",
		"Lucas", "Aisha", "Mateo", "Yuki", "Priya", "Chen", "Fatima", "Jonas", "Ingrid", "Diego",
		"Chloé", "Kwame", "Zoë", "Hiroshi", "Leila", "Marco", "Anya")
}

func lastName(r *rand.Rand) string {
	return pick(r, "Smith", "Johnson", "García", "Müller", "Rossi", "Kim", "Nguyen", "Okafor",
		"Silva", "Tanaka", "Novak", "Dubois", "Patel", "Kowalski", "Andersson", "O'Brien",
		"Hernández", "Cohen", "Singh", "Jensen", "Moreau", "Ivanova")
}

func city(r *rand.Rand) string {
	return pick(r, "Berlin", "Lisbon", "Amsterdam", "Barcelona", "London", "Paris", "Vienna",
		"Copenhagen", "Milan", "Prague", "Dublin", "Stockholm")
}

func courier(r *rand.Rand) string { return firstName(r) + " " + lastName(r)[:1] + "." }

// person returns a name and a matching email address; n keeps addresses
// apart when names repeat.
func person(r *rand.Rand, n int64) (name, email string) {
	first, last := firstName(r), lastName(r)
	domain := pick(r, "example.com", "example.org", "example.net", "mail.example")
	local := strings.ToLower(first + "." + strings.ReplaceAll(last, "'", ""))
	return first + " " + last, fmt.Sprintf("%s%d@%s", local, n, domain)
}

func restaurantName(r *rand.Rand, c cuisine) string {
	return pick(r, c.first...) + " " + pick(r, c.second...)
}

// orderNote returns the free-text note of an order: mostly none, sometimes a
// short instruction and rarely a long one. Long notes are stored out of line
// (TOAST), which is what projector must cope with when such a row changes in
// another column.
func orderNote(r *rand.Rand) *string {
	var s string
	switch n := r.IntN(100); {
	case n < 60:
		return nil
	case n < 97:
		s = pick(r, "Leave at the door", "Ring twice, please", "No cutlery", "Extra napkins",
			"Call on arrival", "Allergic to peanuts", "Third floor, no lift", "Gate code 4711")
	default:
		s = longNote(r, 6000)
	}
	return &s
}

// longNote varies its words so that compression cannot shrink it below the
// size at which PostgreSQL stores a value out of line.
func longNote(r *rand.Rand, size int) string {
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(pick(r, "please", "door", "bell", "stairs", "courtyard", "blue", "gate",
			"left", "right", "behind", "bakery", "parcel", "dog", "quiet", "baby", "sleeping"))
		fmt.Fprintf(&b, "-%d ", r.IntN(100000))
	}
	return b.String()
}
