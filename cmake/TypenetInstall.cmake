include(CMakePackageConfigHelpers)
set(_cfg ${CMAKE_INSTALL_DATADIR}/cmake/typenet)
set(_typenet_targets typenet typenet_native)
if(TYPENET_WITH_IMAGE)
  list(APPEND _typenet_targets typenet_image)
endif()
install(TARGETS ${_typenet_targets} EXPORT typenet-targets)
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT typenet-targets NAMESPACE typenet:: DESTINATION ${_cfg})
configure_package_config_file(cmake/typenet-config.cmake.in
  ${PROJECT_BINARY_DIR}/typenet-config.cmake INSTALL_DESTINATION ${_cfg})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/typenet-config-version.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/typenet-config.cmake ${PROJECT_BINARY_DIR}/typenet-config-version.cmake
        DESTINATION ${_cfg})
