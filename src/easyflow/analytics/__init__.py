"""Analytics: how the sales funnel converts, how long deals stay in each stage, what is won and why deals are lost."""
