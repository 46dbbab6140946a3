"""Tools around schedules that need a framework at call time (imported lazily, never by ``import lrsched``)."""
