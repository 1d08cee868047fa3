"""Job submit flags (RFC 33 ``flags``), in a module of their own so that
submitting a job does not import the job state machine."""

FLAG_DEBUG = 2
FLAG_WAITABLE = 4
FLAG_NOVALIDATE = 8
