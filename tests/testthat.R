library(testthat)
library(causallib)

test_check("causallib")
