"""Beat: the periodic publisher, its entries, leader lease and store."""
