# The README's code, compiled and run as a test.
add_executable(typenet-readme-lenet5 ${CMAKE_CURRENT_LIST_DIR}/readme_lenet5.cpp)
target_link_libraries(typenet-readme-lenet5 PRIVATE typenet::typenet typenet_dev_flags)
add_test(NAME example_readme_lenet5 COMMAND typenet-readme-lenet5)
set_tests_properties(example_readme_lenet5 PROPERTIES LABELS examples PASS_REGULAR_EXPRESSION "total: 61,706 parameters")
