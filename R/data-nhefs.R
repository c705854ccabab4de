#' NHEFS smoking-cessation cohort
#'
#' Data on 1629 cigarette smokers aged 25--74 years from the National Health
#' and Nutrition Examination Survey I Epidemiologic Follow-up Study (NHEFS),
#' as used throughout \enc{Hernán}{Hernan} and Robins' book
#' *Causal Inference: What If*.
#' Participants had a baseline visit in 1971--75 and a follow-up visit in
#' 1982. The treatment is smoking cessation between the two visits (`qsmk`);
#' the main outcomes are weight change between 1971 and 1982 (`wt82_71`,
#' missing for 63 people, who are treated as censored) and death by the end
#' of 1992 (`death`, with follow-up time `survtime`).
#'
#' Categorical variables with their own coding are kept as numeric codes,
#' except `sex`, `race`, `education`, `active` and `exercise`, which are
#' factors with readable labels. For many of the 1971 medical-history
#' variables the code 2 means "missing" (as in the original codebook); note
#' that this code is very common for some of them (e.g. 791 people for `hbp`,
#' `diabetes`, `pica`, `hbpmed` and `boweltrouble`).
#'
#' @format A data frame with 1629 rows and 68 variables:
#' \describe{
#'   \item{seqn}{Unique personal identifier.}
#'   \item{qsmk}{Quit smoking between the baseline questionnaire (1971) and
#'     1982: 1 = yes, 0 = no. The treatment in most of *What If*.}
#'   \item{death}{Death by the end of 1992: 1 = yes, 0 = no.}
#'   \item{yrdth}{Year of death, two digits (83--92); `NA` for survivors.}
#'   \item{modth}{Month of death (1--12); `NA` for (almost all) survivors.}
#'   \item{dadth}{Day of death (1--31); `NA` for (almost all) survivors.}
#'   \item{sbp}{Systolic blood pressure in 1982 (mmHg).}
#'   \item{dbp}{Diastolic blood pressure in 1982 (mmHg).}
#'   \item{sex}{Sex; factor with levels `"male"` (code 0) and `"female"`
#'     (code 1).}
#'   \item{age}{Age in 1971 (years).}
#'   \item{race}{Race in 1971; factor with levels `"white"` (code 0) and
#'     `"other"` (code 1, black or other).}
#'   \item{income}{Total family income in 1971, coded: 11 = less than $1000,
#'     12 = $1000--1999, 13 = $2000--2999, 14 = $3000--3999,
#'     15 = $4000--4999, 16 = $5000--5999, 17 = $6000--6999,
#'     18 = $7000--9999, 19 = $10000--14999, 20 = $15000--19999,
#'     21 = $20000--24999, 22 = $25000 or more.}
#'   \item{marital}{Marital status in 1971: 1 = under 17, 2 = married,
#'     3 = widowed, 4 = never married, 5 = divorced, 6 = separated,
#'     8 = unknown.}
#'   \item{school}{Highest grade of regular school ever attended, in 1971
#'     (years, 0--17).}
#'   \item{education}{Amount of education by 1971; factor with levels
#'     `"8th grade or less"` (code 1), `"HS dropout"` (2), `"HS"` (3),
#'     `"college dropout"` (4), `"college or more"` (5). In this version it is
#'     derived from `school` (< 9, 9--11, 12, 13--15, >= 16 years).}
#'   \item{ht}{Height in 1971 (cm).}
#'   \item{wt71}{Weight in 1971 (kg).}
#'   \item{wt82}{Weight in 1982 (kg); `NA` for 63 people.}
#'   \item{wt82_71}{Weight change between 1971 and 1982, `wt82 - wt71` (kg);
#'     `NA` for 63 people. The main outcome of *What If* Part II.}
#'   \item{birthplace}{State code of birthplace ("check state code - second
#'     page" in the codebook).}
#'   \item{smokeintensity}{Number of cigarettes smoked per day in 1971.}
#'   \item{smkintensity82_71}{Increase in number of cigarettes per day
#'     between 1971 and 1982.}
#'   \item{smokeyrs}{Years of smoking (by 1971).}
#'   \item{asthma}{Diagnosis of asthma in 1971: 1 = ever, 0 = never.}
#'   \item{bronch}{Diagnosis of chronic bronchitis/emphysema in 1971:
#'     1 = ever, 0 = never.}
#'   \item{tb}{Diagnosis of tuberculosis in 1971: 1 = ever, 0 = never.}
#'   \item{hf}{Diagnosis of heart failure in 1971: 1 = ever, 0 = never.}
#'   \item{hbp}{Diagnosis of high blood pressure in 1971: 1 = ever,
#'     0 = never, 2 = missing.}
#'   \item{pepticulcer}{Diagnosis of peptic ulcer in 1971: 1 = ever,
#'     0 = never.}
#'   \item{colitis}{Diagnosis of colitis in 1971: 1 = ever, 0 = never.}
#'   \item{hepatitis}{Diagnosis of hepatitis in 1971: 1 = ever, 0 = never.}
#'   \item{chroniccough}{Diagnosis of chronic cough in 1971: 1 = ever,
#'     0 = never.}
#'   \item{hayfever}{Diagnosis of hay fever in 1971: 1 = ever, 0 = never.}
#'   \item{diabetes}{Diagnosis of diabetes in 1971: 1 = ever, 0 = never,
#'     2 = missing.}
#'   \item{polio}{Diagnosis of polio in 1971: 1 = ever, 0 = never.}
#'   \item{tumor}{Diagnosis of malignant tumor/growth in 1971: 1 = ever,
#'     0 = never.}
#'   \item{nervousbreak}{Diagnosis of nervous breakdown in 1971: 1 = ever,
#'     0 = never.}
#'   \item{alcoholpy}{Had at least one drink in the past year, in 1971:
#'     1 = ever, 0 = never, 2 = missing.}
#'   \item{alcoholfreq}{How often do you drink, in 1971: 0 = almost every
#'     day, 1 = 2--3 times/week, 2 = 1--4 times/month, 3 = fewer than 12
#'     times/year, 4 = no alcohol last year, 5 = unknown.}
#'   \item{alcoholtype}{Which do you most frequently drink, in 1971: 1 = beer,
#'     2 = wine, 3 = liquor, 4 = other/unknown.}
#'   \item{alcoholhowmuch}{When you drink, how much do you drink, in 1971
#'     (number of drinks).}
#'   \item{pica}{Eats dirt or clay, starch or other non-standard food, in
#'     1971: 1 = ever, 0 = never, 2 = missing.}
#'   \item{headache}{Use of headache medication in 1971: 1 = ever,
#'     0 = never.}
#'   \item{otherpain}{Use of other pain medication in 1971: 1 = ever,
#'     0 = never.}
#'   \item{weakheart}{Use of weak heart medication in 1971: 1 = ever,
#'     0 = never.}
#'   \item{allergies}{Use of allergy medication in 1971: 1 = ever,
#'     0 = never.}
#'   \item{nerves}{Use of nerves medication in 1971: 1 = ever, 0 = never.}
#'   \item{lackpep}{Use of lack-of-pep medication in 1971: 1 = ever,
#'     0 = never.}
#'   \item{hbpmed}{Use of high blood pressure medication in 1971: 1 = ever,
#'     0 = never, 2 = missing.}
#'   \item{boweltrouble}{Use of bowel trouble medication in 1971: 1 = ever,
#'     0 = never, 2 = missing.}
#'   \item{wtloss}{Use of weight loss medication in 1971: 1 = ever,
#'     0 = never.}
#'   \item{infection}{Use of infection medication in 1971: 1 = ever,
#'     0 = never.}
#'   \item{active}{"In your usual day, how active are you?" in 1971; factor
#'     with levels `"very active"` (code 0), `"moderately active"` (1),
#'     `"inactive"` (2).}
#'   \item{exercise}{"In recreation, how much exercise?" in 1971; factor with
#'     levels `"much exercise"` (code 0), `"moderate exercise"` (1),
#'     `"little or no exercise"` (2).}
#'   \item{birthcontrol}{Birth control pills in the past 6 months, in 1971:
#'     1 = yes, 0 = no, 2 = missing.}
#'   \item{pregnancies}{Total number of pregnancies, in 1971.}
#'   \item{cholesterol}{Serum cholesterol in 1971 (mg/100 ml).}
#'   \item{hightax82}{Living in a highly taxed state in 1982: 1 = yes,
#'     0 = no.}
#'   \item{price71}{Average tobacco price in state of residence, 1971
#'     (US$ of 2008).}
#'   \item{price82}{Average tobacco price in state of residence, 1982
#'     (US$ of 2008).}
#'   \item{tax71}{Tobacco tax in state of residence, 1971 (US$ of 2008).}
#'   \item{tax82}{Tobacco tax in state of residence, 1982 (US$ of 2008).
#'     The original codebook label says "1971", apparently a typo.}
#'   \item{price71_82}{Difference in average tobacco price in state of
#'     residence, 1971 minus 1982 (US$ of 2008).}
#'   \item{tax71_82}{Difference in tobacco tax in state of residence, 1971
#'     minus 1982 (US$ of 2008).}
#'   \item{id}{Row number, 1--1629 (added in 'causaldata').}
#'   \item{censored}{Censoring indicator for the weight outcome: 1 if
#'     `wt82_71` is missing (no 1982 weight), 0 otherwise (numeric; 63
#'     censored). Used for the inverse probability of censoring weights of
#'     *What If* chapter 12.}
#'   \item{older}{1 if `age` > 50, 0 otherwise (added in 'causaldata').}
#'   \item{survtime}{Months of follow-up from January 1983 until death or
#'     the end of follow-up in December 1992: 120 for survivors, otherwise
#'     `(yrdth - 83) * 12 + modth` (1--120), as in the R code for *What If*
#'     chapter 17.}
#' }
#'
#' @source The NHEFS (National Health and Nutrition Examination Survey I
#'   Epidemiologic Follow-up Study) was jointly initiated by the National
#'   Center for Health Statistics and the National Institute on Aging
#'   (<https://wwwn.cdc.gov/nchs/nhanes/nhefs/>). This is the subset
#'   distributed with \enc{Hernán}{Hernan} and Robins' book
#'   (<https://miguelhernan.org/whatifbook>), as cleaned in the CRAN package
#'   'causaldata' (Huntington-Klein and Barrett; object `causaldata::nhefs`),
#'   which added `id`, `censored` and `older` and re-derived `education` from
#'   `school`. The script `data-raw/nhefs.R` in the package sources converts
#'   it to a plain data frame, removes the Stata-style variable labels,
#'   relabels the factors, and adds `survtime`; the codebook text above is
#'   taken from the variable labels.
#'
#' @references \enc{Hernán}{Hernan} MA, Robins JM (2020).
#'   *Causal Inference: What If*. Boca Raton: Chapman & Hall/CRC.
#'
#' @examples
#' head(nhefs)
#' # crude difference in mean weight change, quitters vs non-quitters
#' tapply(nhefs$wt82_71, nhefs$qsmk, mean, na.rm = TRUE)
#' # number of people censored (no 1982 weight) and deaths by 1992
#' table(censored = nhefs$censored, death = nhefs$death)
#'
#' @docType data
#' @keywords datasets
#' @name nhefs
"nhefs"
