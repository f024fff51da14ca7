new EventSource
