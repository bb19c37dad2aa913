"""`delivrd simulate`: a Tencent-side callback sender for testing, load and proof of no loss."""
