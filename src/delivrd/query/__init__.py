"""The read side: the HTTP toolkit, the read and insight routes, statistics and the shapes they answer."""
