"""The load generator: Locust scenarios driving the api with sales drawn from a product catalog."""
