//! mmstat: page-cache residency, checked against util-linux fincore.
